/**
 * The only request body Operon parses is JSON. Fastify's parser is kept for its protection against
 * prototype poisoning, but its one-size message is replaced by one naming what is wrong, and an
 * empty body counts as no body (so a POST that binds only path parameters needs none).
 */
import type { FastifyInstance } from 'fastify';
import { OperonHttpMalformedJsonError } from './http-errors.js';

export function useJsonBodies(app: FastifyInstance): void {
  const secureParse = app.getDefaultJsonParser('error', 'error');
  // text/plain bodies would reach handlers as strings no argument can bind from: answer 415 instead.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (text.trim() === '') {
      done(null, undefined);
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
