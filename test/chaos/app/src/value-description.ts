/**
 * A description of a value that tells apart what a JSON round trip merges: `-0` from `0`, a Date
 * from its ISO string, a Map from `{}`, `undefined` from `null` and from a missing key, an array
 * hole from `undefined`. Two runs of a workflow saw the same inputs exactly when their
 * descriptions are equal. Shared by the app and the harness.
 */
export function describeValue(value: unknown): string {
  return describe(value, new Set(), 0);
}

const MAX_DEPTH = 200;

function describe(value: unknown, seen: Set<object>, depth: number): string {
  if (depth > MAX_DEPTH) return '…';
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'boolean':
      return String(value);
    case 'number':
      return Object.is(value, -0) ? 'number(-0)' : `number(${value})`;
    case 'bigint':
      return `bigint(${value})`;
    case 'string':
      return JSON.stringify(value);
    case 'symbol':
    case 'function':
      return typeof value;
  }
  if (value === null) return 'null';
  const object = value as object;
  if (seen.has(object)) return 'circular';
  seen.add(object);
  try {
    const inner = (v: unknown) => describe(v, seen, depth + 1);
    if (Array.isArray(object)) {
      const items: string[] = [];
      for (let i = 0; i < object.length; i++) items.push(i in object ? inner(object[i]) : 'hole');
      return `[${items.join(',')}]`;
    }
    if (object instanceof Date) return `Date(${Number.isNaN(object.getTime()) ? 'invalid' : object.toISOString()})`;
    if (object instanceof Map) return `Map{${[...object].map(([k, v]) => `${inner(k)}=>${inner(v)}`).join(',')}}`;
    if (object instanceof Set) return `Set{${[...object].map(inner).join(',')}}`;
    if (object instanceof RegExp) return `RegExp(${String(object)})`;
    if (ArrayBuffer.isView(object)) return `${object.constructor.name}(${Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('hex')})`;
    if (object instanceof Error) return `${object.name}(${JSON.stringify(object.message)})`;
    const proto = Object.getPrototypeOf(object) as { constructor?: { name?: string } } | null;
    const tag = proto === null ? 'null-prototype' : proto === Object.prototype ? '' : (proto.constructor?.name ?? 'anonymous');
    const entries = Object.keys(object).map((key) => `${JSON.stringify(key)}:${inner((object as Record<string, unknown>)[key])}`);
    return `${tag}{${entries.join(',')}}`;
  } finally {
    seen.delete(object);
  }
}
