import { OperonNotRegisteredError, getClassRegistration } from '@operon/sdk';
import type { FunctionRegistry, RegisteredFunction } from './function-registry.js';

type Kind = 'workflow' | 'transaction' | 'communicator';

/**
 * An object with one function per registered method of `cls` of the given kinds: what every
 * `invoke(Cls)` returns. Any other name throws a clear error instead of "is not a function".
 */
export function methodProxy(
  cls: object,
  registry: FunctionRegistry,
  kinds: readonly Kind[],
  call: (fn: RegisteredFunction, args: unknown[]) => Promise<unknown>,
): object {
  const registration = getClassRegistration(cls);
  const className = registration?.className ?? (cls as { name?: string }).name ?? 'anonymous class';
  return new Proxy(
    {},
    {
      get(_target, property) {
        if (typeof property !== 'string' || property === 'then') return undefined;
        const fn = registry.lookup(cls, property);
        if (!fn.method.kind || !kinds.includes(fn.method.kind)) {
          throw new OperonNotRegisteredError(
            `${className}.${property}`,
            `it is a ${fn.method.kind ?? 'handler'}, and this call takes a ${kinds.join(' or ')}`,
          );
        }
        return (...args: unknown[]) => call(fn, args);
      },
    },
  );
}
