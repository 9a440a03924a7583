/**
 * The only request body Operon parses is JSON. Fastify's parser is kept for its protection against
 * prototype poisoning, but its one-size message is replaced by one naming what is wrong, and an
 * empty body counts as no body (so a POST that binds only path parameters needs none).
 *
 * JSON.parse nests without limit, but JSON.stringify, pino and structured clone recurse: a 1 MiB
 * body of 500,000 nested `[` parses, then overflows the stack wherever the value is recorded,
 * logged or answered (a 500 with a logged stack trace, after half a second of CPU). So nesting is
 * bounded before parsing, by one pass over the text (Jackson's StreamReadConstraints does the same,
 * with the same default of 1000).
 */
import type { FastifyInstance } from 'fastify';
import { OperonHttpMalformedJsonError } from './http-errors.js';

export function useJsonBodies(app: FastifyInstance, maxDepth: number): void {
  const secureParse = app.getDefaultJsonParser('error', 'error');
  // text/plain bodies would reach handlers as strings no argument can bind from: answer 415 instead.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    if (nestsDeeperThan(text, maxDepth)) {
      done(new OperonHttpMalformedJsonError(`the request body nests deeper than ${maxDepth} levels (runtimeConfig.maxJsonDepth)`), undefined);
      return;
    }
    secureParse(request, text, (error, value) => {
      if (!error) {
        done(null, value);
        return;
      }
      done(new OperonHttpMalformedJsonError(`malformed JSON in the request body: ${jsonProblem(text)}`), undefined);
    });
  });
}

function jsonProblem(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  return 'it sets __proto__ or constructor.prototype, which Operon refuses';
}

/** Whether `text` opens more than `maxDepth` arrays or objects inside one another (brackets in strings do not count). */
function nestsDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
