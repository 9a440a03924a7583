/**
 * `@SkipLogging` and `@LogMask`: the inputs Operon logs when a workflow, operation or
 * handler starts, and puts on its span, with skipped arguments left out and masked ones replaced by
 * `"****"`. The recorded inputs (needed for recovery) are not affected: they are data, not logs.
 *
 * Masks named by parameter (`@LogMask('card')`) are resolved to positions once per method, from
 * its source. A name that matches no parameter is an error rather than a silently logged secret.
 */
import { builtParameters, OperonDecoratorError, type MethodRegistration } from '@operon/sdk';
import type { RegisteredFunction } from '../executor/function-registry.js';
import { parameterNames } from '../http/parameter-names.js';

export const MASKED_VALUE = '****';

/** Which argument positions to leave out and which to mask (`null` where a method masks nothing). */
interface ResolvedMasks {
  readonly all?: 'skip' | 'mask';
  readonly skipped: ReadonlySet<number>;
  readonly masked: ReadonlySet<number>;
}

// A memo, not state: keyed by the registration, which lives exactly as long as its class.
const resolved = new WeakMap<MethodRegistration, ResolvedMasks | null>();

/** The masks of `fn`, resolved on first use; throws if a name matches none of its parameters. */
export function logMasksOf(fn: RegisteredFunction): ResolvedMasks | null {
  const method = fn.method;
  let masks = resolved.get(method);
  if (masks === undefined) {
    masks = resolve(fn);
    resolved.set(method, masks);
  }
  return masks;
}

function resolve(fn: RegisteredFunction): ResolvedMasks | null {
  const method = fn.method;
  // Skipping wins over masking: an argument both skipped and masked is left out.
  if (method.skipAllParams) return { all: 'skip', skipped: new Set(), masked: new Set() };
  if (method.maskAllParams) return { all: 'mask', skipped: new Set(), masked: new Set() };
  const skipped = new Set(method.skipLoggingParams);
  const masked = new Set(method.maskedParams);
  if (method.skipLoggingNames.size > 0 || method.maskedNames.size > 0) {
    // What `operon build` read before bundling, else the compiled source (a bundler may rename a parameter).
    const names = builtParameters(fn.cls, method.methodName)?.map((p) => p.name) ?? parameterNames(method.fn);
    for (const [decorator, wanted, into] of [
      ['SkipLogging', method.skipLoggingNames, skipped],
      ['LogMask', method.maskedNames, masked],
    ] as const) {
      for (const name of wanted) into.add(positionOf(fn, names, decorator, name));
    }
  }
  if (skipped.size === 0 && masked.size === 0) return null;
  return { skipped, masked };
}

function positionOf(fn: RegisteredFunction, names: (string | undefined)[] | undefined, decorator: string, name: string): number {
  if (names === undefined) {
    throw new OperonDecoratorError(
      `@${decorator}('${name}') on ${fn.name}: its parameter names cannot be read from its source; ` +
        `declare it as a plain static async method (and bundle with keepNames)`,
    );
  }
  const position = names.indexOf(name);
  if (position < 0) {
    const known = names.filter((n) => n !== undefined);
    throw new OperonDecoratorError(
      `@${decorator}('${name}') on ${fn.name} names no parameter of it; its parameters after the context are ` +
        (known.length > 0 ? known.join(', ') : 'none'),
    );
  }
  return position;
}

/** The arguments as they may be logged: skipped ones left out, masked ones `"****"`. */
export function loggableInputs(fn: RegisteredFunction, args: readonly unknown[]): unknown[] {
  const masks = logMasksOf(fn);
  if (masks === null) return args as unknown[];
  if (masks.all === 'skip') return [];
  if (masks.all === 'mask') return args.map(() => MASKED_VALUE);
  const shown: unknown[] = [];
  args.forEach((arg, position) => {
    if (masks.skipped.has(position)) return;
    shown.push(masks.masked.has(position) ? MASKED_VALUE : arg);
  });
  return shown;
}

/** True when `fn` keeps any argument out of logs: then even request URLs are logged without values. */
export function hasLogMasks(fn: RegisteredFunction): boolean {
  return logMasksOf(fn) !== null;
}

/** The `operon.inputs` span attribute: the loggable inputs as JSON. */
export function inputsAttribute(fn: RegisteredFunction, args: readonly unknown[]): string {
  try {
    return JSON.stringify(loggableInputs(fn, args)) ?? '[]';
  } catch {
    // Inputs that were recorded are JSON already; anything else is not worth failing a span over.
    return '"(inputs not representable as JSON)"';
  }
}
