/** The decorated classes an app registered, indexed by `Class.method` for lookup and recovery. */
import {
  OperonDecoratorError,
  OperonNotRegisteredError,
  getClassRegistration,
  type ClassRegistration,
  type MethodRegistration,
} from '@operon/sdk';

export interface RegisteredFunction {
  /** `Class.method`: the name recorded with workflows and operations. */
  readonly name: string;
  readonly cls: object;
  readonly classRegistration: ClassRegistration;
  readonly method: MethodRegistration;
  /** The version (bundle hash) whose code this is; null for classes registered without a bundle. */
  readonly version: string | null;
}

export class FunctionRegistry {
  private readonly byName = new Map<string, RegisteredFunction>();
  private readonly byClass = new Map<object, ClassRegistration>();

  constructor(
    classes: readonly unknown[],
    /** The version (bundle hash) these classes come from; null when they were registered without a bundle. */
    readonly version: string | null = null,
  ) {
    for (const cls of classes) this.add(cls);
  }

  add(cls: unknown): void {
    const registration = getClassRegistration(cls);
    if (!registration || this.byClass.has(cls as object)) return;
    this.byClass.set(cls as object, registration);
    for (const method of registration.methods.values()) {
      const name = `${registration.className}.${method.methodName}`;
      const other = this.byName.get(name);
      if (other && other.cls !== cls) {
        throw new OperonDecoratorError(`two registered classes are both named ${registration.className}; class names must be unique`);
      }
      this.byName.set(name, { name, cls: cls as object, classRegistration: registration, method, version: this.version });
    }
  }

  get classes(): object[] {
    return [...this.byClass.keys()];
  }

  all(): RegisteredFunction[] {
    return [...this.byName.values()];
  }

  byQualifiedName(name: string): RegisteredFunction | undefined {
    return this.byName.get(name);
  }

  /** The registered method `methodName` of `cls`; registers `cls` on first use. */
  lookup(cls: unknown, methodName: string): RegisteredFunction {
    this.add(cls);
    const registration = getClassRegistration(cls);
    const className = registration?.className ?? (cls as { name?: string })?.name ?? String(cls);
    const fn = registration && this.byName.get(`${registration.className}.${methodName}`);
    if (!fn) {
      throw new OperonNotRegisteredError(
        `${className}.${methodName}`,
        'mark it @Workflow, @Transaction or @Communicator (and make it static)',
      );
    }
    return fn;
  }
}
