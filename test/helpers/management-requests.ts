/** Requests to a runtime's management API through its HTTP server, with the management token. */
import type { createHttpServer } from '@operon/runtime';

export type HttpServer = Awaited<ReturnType<typeof createHttpServer>>;

/** A POST of `payload` to `url` on `app`, authorized by bearer `token`: the server's answer as it is. */
export function authorizedPost(app: HttpServer, token: string) {
  return (url: string, payload?: object) => app.inject({ method: 'POST', url, payload, headers: { authorization: `Bearer ${token}` } });
}
