/**
 * Classes whose instances Operon stores and gives back as instances. The registry lives on
 * `globalThis` under a `Symbol.for` key, so an app bundling its own copy of `@operon/sdk`
 * registers into the one the runtime reads.
 */
import { OperonSerializableClassError } from './errors.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type SerializableClass = abstract new (...args: any[]) => object;

interface Registry {
  readonly byName: Map<string, SerializableClass>;
  readonly byClass: Map<SerializableClass, string>;
}

const REGISTRY = Symbol.for('operon.serializableClasses');

function registry(): Registry {
  const holder = globalThis as { [REGISTRY]?: Registry };
  return (holder[REGISTRY] ??= { byName: new Map(), byClass: new Map() });
}

/**
 * Stores instances of `cls` (own enumerable fields, and for an Error subclass its message, stack
 * and cause too) and revives them with `cls.prototype`, without running its constructor. `name`
 * (default `cls.name`) is what the record holds: keep it stable across deploys. Registering the
 * same class under the same name again does nothing.
 */
export function registerSerializableClass(cls: SerializableClass, name: string = typeof cls === 'function' ? cls.name : ''): void {
  if (typeof cls !== 'function' || typeof cls.prototype !== 'object' || cls.prototype === null) {
    throw new OperonSerializableClassError(`registerSerializableClass needs a class, got ${cls === null ? 'null' : typeof cls}`);
  }
  if (typeof name !== 'string' || name === '') {
    throw new OperonSerializableClassError('registerSerializableClass needs a name for an anonymous class: registerSerializableClass(cls, "Name")');
  }
  const { byName, byClass } = registry();
  const holder = byName.get(name);
  if (holder === cls && byClass.get(cls) === name) return;
  if (holder !== undefined) throw new OperonSerializableClassError(`registerSerializableClass: the name "${name}" is already registered for another class`);
  const held = byClass.get(cls);
  if (held !== undefined) throw new OperonSerializableClassError(`registerSerializableClass: ${cls.name} is already registered as "${held}"`);
  byName.set(name, cls);
  byClass.set(cls, name);
}

/** The class registered under `name`, if any. */
export function serializableClassNamed(name: string): SerializableClass | undefined {
  return registry().byName.get(name);
}

/** The name `cls` is registered under, if it is. */
export function serializableClassName(cls: unknown): string | undefined {
  return registry().byClass.get(cls as SerializableClass);
}
