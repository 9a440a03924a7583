/**
 * `${VAR}` and `${VAR:-default}` in config values, substituted from an env object.
 *
 * Substitution runs on the parsed YAML tree's string values, never on the file's text: a value
 * such as `x\nhostname: evil` in a variable stays one string and cannot add keys to the config.
 * Keys are never substituted.
 */
import { configIssue, formatKeyPath, type ConfigIssue, type KeyPath } from './config-error.js';
import { schemaAt } from './config-schema.js';

/** A scalar that was exactly one reference, so it may be coerced to the type the schema wants. */
export interface WholeReference {
  readonly path: KeyPath;
  readonly variable: string;
}

export interface Substitution {
  /** A new tree; the input is left untouched. */
  readonly value: unknown;
  /** One per unset variable without a default, or malformed reference. */
  readonly issues: ConfigIssue[];
  readonly wholeReferences: WholeReference[];
}

// `$${` is an escape for a literal `${` (as in Docker Compose), so a `migrate` command can still
// hand `${NAME}` to its shell. Otherwise `${` opens a reference that must close with `}`.
const REFERENCE = /\$\$\{|\$\{([^}]*)(\})?/g;
const BODY = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;
const WHOLE = /^\$\{([^}]*)\}$/;

export function substituteEnv(tree: unknown, env: NodeJS.ProcessEnv): Substitution {
  const issues: ConfigIssue[] = [];
  const wholeReferences: WholeReference[] = [];

  const walk = (node: unknown, path: KeyPath): unknown => {
    if (typeof node === 'string') {
      const whole = WHOLE.exec(node);
      const variable = whole === null ? undefined : BODY.exec(whole[1]!)?.[1];
      if (variable !== undefined) wholeReferences.push({ path, variable });
      return substituteString(node, env, formatKeyPath(path), issues);
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (isPlainObject(node)) {
      // fromEntries defines own properties, so a `__proto__` key stays a key and sets no prototype.
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, [...path, k])]));
    }
    return node;
  };

  return { value: walk(tree, []), issues, wholeReferences };
}

function substituteString(value: string, env: NodeJS.ProcessEnv, key: string, issues: ConfigIssue[]): string {
  return value.replace(REFERENCE, (match, body: string | undefined, close: string | undefined) => {
    if (match === '$${') return '${';
    const parsed = close === undefined ? null : BODY.exec(body!);
    if (parsed === null || parsed[2]?.includes('${')) {
      // The text is not echoed: an unclosed `${` runs to the end of the value, maybe a password.
      issues.push({
        ...configIssue(key, '${NAME} or ${NAME:-default}', 'a malformed reference'),
        detail: `${key} has a "\${" that starts no valid reference: write \${NAME} or \${NAME:-default}, or $\${ for a literal \${`,
      });
      return '';
    }
    const [, name, fallback] = parsed as unknown as [string, string, string | undefined];
    const set = env[name];
    // Shell semantics: `:-` also applies when the variable is set but empty.
    if (fallback !== undefined) return set === undefined || set === '' ? fallback : set;
    if (set !== undefined) return set;
    issues.push({
      ...configIssue(key, `environment variable ${name} to be set`, 'unset'),
      detail: `${key} refers to \${${name}}, which is not set: set ${name} in the environment, or write \${${name}:-default}`,
    });
    return '';
  });
}

/**
 * Converts, in place, each whole-reference scalar whose schema wants an integer or a boolean and
 * whose text is one: so `port: ${PGPORT:-5432}` gives 5432. A literal `port: "5432"` is left a
 * string (and rejected): the user quoted it, so it is not silently reinterpreted.
 */
export function coerceWholeReferences(tree: unknown, references: readonly WholeReference[]): void {
  for (const { path } of references) {
    const parentPath = path.slice(0, -1);
    const parent = parentPath.reduce<unknown>((node, segment) => (node as Record<string | number, unknown>)[segment], tree);
    const last = path[path.length - 1];
    if (last === undefined || parent === null || typeof parent !== 'object') continue;
    const container = parent as Record<string | number, unknown>;
    const text = String(container[last]).trim();
    const node = schemaAt(path);
    const type = node?.type;
    if (type === 'integer' && /^[+-]?\d+$/.test(text) && Number.isSafeInteger(Number(text))) {
      container[last] = Number(text);
    } else if ((type === 'boolean' || node?.enum?.includes(true)) && /^(true|false)$/i.test(text)) {
      container[last] = text.toLowerCase() === 'true';
    }
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
