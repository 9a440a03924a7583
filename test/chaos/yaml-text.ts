/**
 * Writes a plain JSON-like tree as block YAML, the way a person writes operon-config.yaml. Strings
 * are double-quoted with JSON escapes, which YAML reads the same way; the harness needs no YAML
 * library for this, and the config fuzzer gets text whose lines and indentation it can mutate.
 */
export function toYaml(value: unknown, indent = ''): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return `${indent}[]\n`;
    return value.map((item) => (isBlock(item) ? `${indent}-\n${toYaml(item, `${indent}  `)}` : `${indent}- ${scalar(item)}\n`)).join('');
  }
  if (isPlainObject(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) return `${indent}{}\n`;
    return entries
      .map(([key, item]) => (isBlock(item) ? `${indent}${scalar(key)}:\n${toYaml(item, `${indent}  `)}` : `${indent}${scalar(key)}: ${scalar(item)}\n`))
      .join('');
  }
  return `${indent}${scalar(value)}\n`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isBlock(value: unknown): boolean {
  return (Array.isArray(value) || isPlainObject(value)) && Object.keys(value as object).length > 0;
}

function scalar(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return /^[A-Za-z_][A-Za-z0-9_./-]*$/.test(value) && !/^(true|false|null|yes|no|on|off|~)$/i.test(value) ? value : JSON.stringify(value);
  if (Array.isArray(value)) return '[]';
  if (typeof value === 'object') return '{}';
  return String(value);
}
