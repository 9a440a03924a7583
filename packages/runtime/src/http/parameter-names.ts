/**
 * Reads a handler's parameter names from its source text, so HTTP arguments can bind by name.
 * Handles comments, default values (`excl = ''`, which make a parameter optional), `async`,
 * method and function forms, and the async lowering of tsc (`__awaiter`) and esbuild (`__async`),
 * which move parameters with defaults into an inner generator.
 */
import { OperonHttpRouteError } from './http-errors.js';

export interface HandlerParameter {
  readonly name: string;
  /** True when the parameter has a default value: an absent argument then takes the default. */
  readonly optional: boolean;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const OPENERS: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** If a string, template or comment starts at `i`, the index just after it; otherwise `i`. */
function skipNonCode(src: string, i: number): number {
  const c = src[i];
  const next = src[i + 1];
  if (c === '/' && next === '/') {
    const end = src.indexOf('\n', i);
    return end < 0 ? src.length : end + 1;
  }
  if (c === '/' && next === '*') {
    const end = src.indexOf('*/', i + 2);
    return end < 0 ? src.length : end + 2;
  }
  if (c === '"' || c === "'") {
    let j = i + 1;
    while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
    return j + 1;
  }
  if (c === '`') {
    let j = i + 1;
    while (j < src.length && src[j] !== '`') {
      if (src[j] === '\\') j += 2;
      else if (src[j] === '$' && src[j + 1] === '{') j = matchingClose(src, j + 1) + 1;
      else j++;
    }
    return j + 1;
  }
  return i;
}

/** The index of the bracket that closes the one at `open`, skipping strings and comments. */
function matchingClose(src: string, open: number): number {
  const stack: string[] = [];
  let i = open;
  while (i < src.length) {
    const skipped = skipNonCode(src, i);
    if (skipped !== i) {
      i = skipped;
      continue;
    }
    const c = src[i]!;
    if (OPENERS[c]) stack.push(OPENERS[c]!);
    else if (c === stack[stack.length - 1]) {
      stack.pop();
      if (stack.length === 0) return i;
    }
    i++;
  }
  return -1;
}

/** `src` with every comment replaced by a space (strings kept as they are). */
function stripComments(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const skipped = skipNonCode(src, i);
    if (skipped === i) {
      out += src[i++];
      continue;
    }
    const isComment = src[i] === '/';
    out += isComment ? ' ' : src.slice(i, skipped);
    i = skipped;
  }
  return out;
}

/** Splits at commas outside brackets, strings and templates. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const skipped = skipNonCode(text, i);
    if (skipped !== i) {
      i = skipped;
      continue;
    }
    const c = text[i]!;
    if (OPENERS[c]) depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
    i++;
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

/** The text between the parentheses of the parameter list, or undefined if none can be found. */
function parameterText(src: string): string | undefined {
  const single = /^\s*(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(src);
  if (single) return single[1];
  let i = 0;
  while (i < src.length) {
    const skipped = skipNonCode(src, i);
    if (skipped !== i) {
      i = skipped;
      continue;
    }
    const c = src[i];
    // A computed method name (`[key](ctx) {}`) may hold parentheses of its own.
    if (c === '[') {
      const close = matchingClose(src, i);
      if (close < 0) return undefined;
      i = close + 1;
      continue;
    }
    if (c === '(') {
      const close = matchingClose(src, i);
      if (close < 0) return undefined;
      return lowered(src.slice(close + 1)) ?? src.slice(i + 1, close);
    }
    i++;
  }
  return undefined;
}

/**
 * Compilers that lower `async` for old targets keep only the leading parameters outside and pass
 * `arguments` to an inner generator that declares them all, defaults included.
 */
function lowered(afterParams: string): string | undefined {
  const body = stripComments(afterParams);
  const match = /^\s*\{\s*return\s+__(?:awaiter|async)\(\s*this\s*,\s*arguments\s*,\s*(?:void 0\s*,\s*)?function\s*\*\s*(?:[\w$]+\s*)?\(/.exec(body);
  if (!match) return undefined;
  const open = match[0].length - 1;
  const close = matchingClose(body, open);
  return close < 0 ? undefined : body.slice(open + 1, close);
}

/** One parameter as read from source: its name, or why it has none. */
type ReadParameter = { name: string; optional: boolean } | { problem: string; optional: boolean };

function readParameter(parameter: string, position: string): ReadParameter {
  const equals = parameter.indexOf('=');
  const optional = equals >= 0;
  if (parameter.startsWith('{') || parameter.startsWith('[')) {
    return {
      optional,
      problem: `${position} is destructured (${parameter.slice(0, 40)}); HTTP arguments bind by parameter name, so give it a name and destructure inside the method, or name it in the route option args`,
    };
  }
  if (parameter.startsWith('...')) {
    return { optional, problem: `${position} is a rest parameter (${parameter}); HTTP arguments bind by parameter name, so name each one` };
  }
  const name = (optional ? parameter.slice(0, equals) : parameter).trim();
  if (!IDENTIFIER.test(name)) return { optional, problem: `cannot read the name of ${position} from its source (found "${name.slice(0, 40)}")` };
  return { name, optional };
}

/**
 * The parameters of `fn` after its first (the context), each with its name or the reason it has
 * none; `undefined` when the source cannot be read at all.
 */
export function readParameters(fn: (...args: never[]) => unknown, label: string): ReadParameter[] | undefined {
  const text = parameterText(fn.toString());
  if (text === undefined) return undefined;
  return splitTopLevel(stripComments(text))
    .slice(1)
    .map((parameter, index) => readParameter(parameter, `parameter ${index + 2} of handler ${label}`));
}

export function unreadableSource(label: string): OperonHttpRouteError {
  return new OperonHttpRouteError(
    `cannot read the parameter names of handler ${label} from its source; declare it as a plain static async method, or name its arguments in the route option args`,
  );
}

/**
 * The parameters of `fn` after its first (the context). Throws, naming `label`, when a parameter
 * cannot bind by name: destructuring, a rest parameter, or a source that cannot be read.
 */
export function handlerParameters(fn: (...args: never[]) => unknown, label: string): HandlerParameter[] {
  const read = readParameters(fn, label);
  if (read === undefined) throw unreadableSource(label);
  return read.map((parameter) => {
    if ('problem' in parameter) throw new OperonHttpRouteError(parameter.problem);
    return parameter;
  });
}

/**
 * The names of the parameters of `fn` after its first (the context), `undefined` at a position
 * whose parameter has no plain name (destructured or rest); `undefined` altogether when the source
 * cannot be read. Unlike {@link handlerParameters} it never throws: log masks use it, and decide.
 */
export function parameterNames(fn: (...args: never[]) => unknown): (string | undefined)[] | undefined {
  return readParameters(fn, '')?.map((parameter) => ('name' in parameter ? parameter.name : undefined));
}
