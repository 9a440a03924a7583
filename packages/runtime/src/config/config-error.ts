import { OperonError } from '@operon/sdk';

/** One thing wrong with a config: where, what was expected, what was found. */
export interface ConfigIssue {
  /** Dotted path (`database.port`, `database.migrate[0]`), '' for the whole file. */
  readonly key: string;
  readonly expected: string;
  /** What was found, already safe to print (never a password). */
  readonly got: string;
  /** The text after `<file>: `; by default `<key> must be <expected>, got <got>`. */
  readonly detail: string;
  /** 1-based position in the file, when known (YAML syntax errors). */
  readonly line?: number;
  readonly column?: number;
}

/** Builds the usual issue, `<key> must be <expected>, got <got>`. */
export function configIssue(key: string, expected: string, got: string): ConfigIssue {
  return { key, expected, got, detail: `${key} must be ${expected}, got ${got}` };
}

/**
 * A config file that cannot be used: missing, not YAML, or not matching the schema. The CLI prints
 * its message (one line per issue) and exits non-zero, without a stack trace.
 * `key`, `expected` and `got` describe the first issue, the one most worth fixing first.
 */
export class OperonConfigError extends OperonError {
  static override readonly CODE = 'OPERON_ERR_CONFIG_INVALID';
  readonly file: string;
  readonly key: string;
  readonly expected: string;
  readonly got: string;
  readonly issues: readonly ConfigIssue[];

  /** `file` is the name to print: as the user gave it, or a label such as `environment`. */
  constructor(file: string, issues: readonly ConfigIssue[]) {
    if (issues.length === 0) throw new TypeError('OperonConfigError needs at least one issue');
    super(issues.map((issue) => `${location(file, issue)}: ${issue.detail}`).join('\n'));
    this.file = file;
    this.issues = issues;
    const first = issues[0];
    this.key = first.key;
    this.expected = first.expected;
    this.got = first.got;
  }
}

/** A path inside the config tree, as segments: `['database', 'migrate', 0]`. */
export type KeyPath = readonly (string | number)[];

/** `['database', 'migrate', 0]` → `database.migrate[0]`, the form every message uses. */
export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

function location(file: string, issue: ConfigIssue): string {
  if (issue.line === undefined) return file;
  return `${file}:${issue.line}:${issue.column ?? 1}`;
}
