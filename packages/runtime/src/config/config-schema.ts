/**
 * The JSON Schema of `operon-config.yaml`, and the translation of ajv's errors into messages a
 * user can act on. Every section but `application` rejects unknown keys, so a typo such as
 * `database.hostnme` is an error rather than a silently ignored setting (and a silently embedded
 * database).
 */
import type { ErrorObject } from 'ajv';
import { configIssue, formatKeyPath, type ConfigIssue, type KeyPath } from './config-error.js';
import { CONFIG_SCHEMA, type SchemaNode } from './config-schema-definition.js';
import { validateConfigSchema as validate } from './config-validator.generated.js';

export { CONFIG_SCHEMA, type SchemaNode };

/** The schema node that governs `path`, if the schema declares one. */
export function schemaAt(path: KeyPath): SchemaNode | undefined {
  let node: SchemaNode | undefined = CONFIG_SCHEMA;
  for (const segment of path) {
    if (node === undefined) return undefined;
    node = typeof segment === 'number' ? node.items : node.properties?.[segment];
  }
  return node;
}

/**
 * Removes keys the schema declares whose value is null, in place: in YAML `database:` or `port:`
 * with nothing after it parses to null, and means "not set". Unknown keys are kept whatever their
 * value, so `hostnme:` is still reported; `application` is left exactly as written.
 */
export function dropNullsAtKnownKeys(data: unknown, node: SchemaNode = CONFIG_SCHEMA): void {
  if (node.properties === undefined || data === null || typeof data !== 'object' || Array.isArray(data)) return;
  const record = data as Record<string, unknown>;
  for (const [key, child] of Object.entries(node.properties)) {
    if (!Object.hasOwn(record, key)) continue;
    if (record[key] === null) delete record[key];
    else dropNullsAtKnownKeys(record[key], child);
  }
}

/** Says how a value at `path` is shown in messages; lets the caller mask secrets. */
export type DescribeFound = (path: KeyPath, value: unknown) => string;

/**
 * Validates `data` against the schema: every problem, one issue per key. Unknown keys come first:
 * a misspelt key is often the cause of the rest (`hostnme` also means "embedded database").
 */
export function validateConfig(data: unknown, describeFound: DescribeFound): ConfigIssue[] {
  if (validate(data)) return [];
  const errors = validate.errors ?? [];
  const unknownFirst = [
    ...errors.filter((e) => e.keyword === 'additionalProperties'),
    ...errors.filter((e) => e.keyword !== 'additionalProperties'),
  ];
  const issues = new Map<string, ConfigIssue>();
  for (const error of unknownFirst) {
    const issue = toIssue(error, data, describeFound);
    if (!issues.has(issue.key)) issues.set(issue.key, issue);
  }
  return [...issues.values()];
}

function toIssue(error: ErrorObject, root: unknown, describeFound: DescribeFound): ConfigIssue {
  const path = pointerToPath(error.instancePath, root);
  if (error.keyword === 'additionalProperties') {
    const name = String(error.params['additionalProperty']);
    return unknownKeyIssue([...path, name], Object.keys((error.parentSchema as SchemaNode).properties ?? {}));
  }
  if (path.length === 0) {
    // The whole file is a list or a scalar.
    const got = describeValue(error.data);
    return { ...configIssue('', 'a mapping', got), detail: `the file must be a mapping of keys to values, got ${got}` };
  }
  const expected = expectedOf(error.parentSchema as SchemaNode, error.keyword);
  return configIssue(formatKeyPath(path), expected, describeFound(path, error.data));
}

function unknownKeyIssue(path: KeyPath, allowed: string[]): ConfigIssue {
  const key = formatKeyPath(path);
  const name = String(path[path.length - 1]);
  const guess = closest(name, allowed);
  const hint = guess === undefined ? '' : `; did you mean ${guess}?`;
  return {
    key,
    expected: `one of ${allowed.join(', ')}`,
    got: JSON.stringify(name),
    detail: `${key} is not a known key${hint} (allowed: ${allowed.join(', ')})`,
  };
}

/**
 * Plain words for what a schema node accepts. A value of the wrong type hears only the type ("an
 * integer"); one of the right type that breaks a bound hears the bound ("an integer from 1 to 65535").
 */
function expectedOf(node: SchemaNode, keyword: string): string {
  if (node.description !== undefined) return node.description;
  if (node.enum !== undefined) return `one of ${node.enum.join(', ')}`;
  const wrongType = keyword === 'type';
  switch (node.type) {
    case 'integer':
      if (wrongType || node.minimum === undefined) return 'an integer';
      if (node.maximum !== undefined) return `an integer from ${node.minimum} to ${node.maximum}`;
      return `an integer of at least ${node.minimum}`;
    case 'string':
      return node.minLength && !wrongType ? 'a non-empty string' : 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return node.items?.type === 'string' ? 'a list of strings' : 'a list';
    default:
      return 'a mapping of keys to values';
  }
}

/** How a found value reads in a message: strings quoted (and cut short), containers by kind. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return 'a mapping';
  return String(value);
}

/** What kind of value this is, without showing it: for secrets. */
export function describeKind(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

/** Turns ajv's JSON Pointer back into segments, numbers where the data there is an array. */
function pointerToPath(pointer: string, root: unknown): KeyPath {
  const path: (string | number)[] = [];
  let node = root;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const index = Array.isArray(node) ? Number(segment) : undefined;
    path.push(index ?? segment);
    node = (node as Record<string, unknown> | undefined)?.[segment];
  }
  return path;
}

/** The allowed key a typo most likely meant: at most 2 edits away (or differing only in case). */
function closest(name: string, allowed: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of allowed) {
    const d = candidate.toLowerCase() === name.toLowerCase() ? 0 : editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
