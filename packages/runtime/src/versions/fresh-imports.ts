/**
 * Imports a version's bundle so that a failed import can really be tried again. Node keeps every
 * module it tried, by URL, for the life of the process: one that failed to parse or whose top-level
 * code threw answers each later import with its first error, even once the file is fixed on disk.
 * So each attempt imports the bundle under an attempt number of its own, and a resolve hook gives
 * the files a failed attempt first brought into the process (and only those) that attempt number
 * too: the next attempt reads them again as new modules. A module already loaded before (the
 * packages the current code imports, `@operon/sdk` among them) keeps its one instance, shared.
 */
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

const ATTEMPT = 'operon-attempt';
const FAILED = 'operon-failed';

/**
 * Runs in Node's loader thread. `first` maps each file a version's import brought in to the
 * attempt that first loaded it; `failed` holds the attempts that failed, which each attempt's own
 * URL announces. A file first loaded by a failed attempt is imported under the importing
 * attempt's number: a module of its own, not the failed one. The attempts after share that copy
 * (as they would share the file without the failure), unless the attempt that made it failed too.
 */
const HOOKS = `
const first = new Map();
const resolving = new Map();
const failed = new Set();
// A file first loaded by a failed attempt: the later attempt whose copy of it the next ones share.
const copies = new Map();
const param = (url, name) => {
  const at = url ? url.indexOf('?') : -1;
  return at < 0 ? null : new URLSearchParams(url.slice(at)).get(name);
};
export async function resolve(specifier, context, next) {
  for (const attempt of (param(specifier, '${FAILED}') ?? '').split('.')) if (attempt) failed.add(attempt);
  const resolved = await next(specifier, context);
  const attempt = param(context.parentURL, '${ATTEMPT}');
  if (attempt === null || !resolved.url.startsWith('file:') || resolved.url.includes('?')) return resolved;
  const loadedBy = first.get(resolved.url);
  if (loadedBy !== undefined && failed.has(loadedBy)) {
    const copy = copies.get(resolved.url);
    const by = copy !== undefined && !failed.has(copy) ? copy : attempt;
    copies.set(resolved.url, by);
    return { ...resolved, url: resolved.url + '?${ATTEMPT}=' + by };
  }
  if (loadedBy === undefined && !resolving.has(resolved.url)) resolving.set(resolved.url, attempt);
  return resolved;
}
export async function load(url, context, next) {
  // Called only for a URL not in the module map yet: this attempt brings it into the process.
  const attempt = resolving.get(url);
  if (attempt !== undefined) {
    resolving.delete(url);
    if (!first.has(url)) first.set(url, attempt);
  }
  return next(url, context);
}
`;

let hooks: 'none' | 'registered' | 'unavailable' = 'none';
let attempts = 0;
/** Failed attempts the hook has not been told of yet: the next attempt's URL names them. */
let unannounced: number[] = [];
/** Errors a version's import rejected with: Node may report one again as an unhandled rejection. */
const failures = new WeakSet<object>();
/**
 * Thrown values that are not objects (a string, a number), which no WeakSet holds: how many
 * second reports of each may still come. Each is matched once, and forgotten soon after the
 * import failed (Node reports it again at once, if at all), so an app's own rejection with an
 * equal value later is not taken for one.
 */
const thrownValues = new Map<unknown, number>();
const FORGET_THROWN_VALUE_MS = 5_000;

function expectSecondReport(value: unknown): void {
  thrownValues.set(value, (thrownValues.get(value) ?? 0) + 1);
  setTimeout(() => takeSecondReport(value), FORGET_THROWN_VALUE_MS).unref();
}

/** True (and one fewer expected) if a second report of `value` was still expected. */
function takeSecondReport(value: unknown): boolean {
  const expected = thrownValues.get(value);
  if (expected === undefined) return false;
  if (expected > 1) thrownValues.set(value, expected - 1);
  else thrownValues.delete(value);
  return true;
}

/**
 * Registers the hook once per process, from `hooksFile` (written there first, so a stack trace
 * through it names a short file). Node 20.6 and later; before, only the bundle is imported anew.
 */
function registerHooks(hooksFile: string, write: (file: string, contents: string) => void): void {
  if (hooks !== 'none') return;
  if (typeof register !== 'function') {
    hooks = 'unavailable';
    return;
  }
  write(hooksFile, HOOKS);
  register(pathToFileURL(hooksFile).href);
  hooks = 'registered';
}

/**
 * Imports the module at `fileUrl` as a new module, whatever an earlier attempt at it (or at a file
 * it imports) left behind. The first call writes the hook to `hooksFile` with `write` and registers it.
 */
export async function importFresh(fileUrl: string, hooksFile: string, write: (file: string, contents: string) => void): Promise<Record<string, unknown>> {
  registerHooks(hooksFile, write);
  const attempt = ++attempts;
  const failed = unannounced;
  unannounced = [];
  const url = `${fileUrl}?${ATTEMPT}=${attempt}${failed.length > 0 ? `&${FAILED}=${failed.join('.')}` : ''}`;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    unannounced.push(attempt);
    if (isObject(error)) failures.add(error);
    else expectSecondReport(error);
    throw error;
  }
}

/**
 * Whether `reason` is the error a version's import already rejected with. Node 20 reports the
 * error of a CommonJS file that threw as it was imported a second time, as an unhandled rejection
 * of a promise of its own: it was handled (the load failed, and was logged), so it must not end
 * the process. An error object is matched by identity; a thrown value that is not an object (a
 * string, a number) by value, once per failed import that threw it, shortly after.
 */
export function isFailedVersionImport(reason: unknown): boolean {
  if (isObject(reason)) return failures.has(reason);
  // A value that is not an object has no identity: one report of it is taken for each failed import that threw it.
  return takeSecondReport(reason);
}

function isObject(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}
