/**
 * The dashboard's static files (built by scripts/build-dashboard.mjs into dist/dashboard), served
 * by the app's own server at `/operon/dashboard`: the page, one script, one stylesheet. Only those
 * names are served (no path from the request reaches the file system), and the page may load
 * nothing from anywhere but this server. The files hold no data: every figure on the page comes
 * from the management routes, under their access rules. The startup line's link
 * (`/operon/dashboard?token=…`) is answered with the token's cookie and a redirect to the bare
 * page, so the token does not stay in the address bar or the browser's history.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { OperonNotAuthenticatedError } from '@operon/sdk';
import { managementAccess, tokenCookie } from '../management/management-access.js';
import type { OperonRuntime } from '../runtime.js';

export const DASHBOARD_PATH = '/operon/dashboard';

const FILES: Readonly<Record<string, { readonly file: string; readonly type: string } | undefined>> = {
  'main.js': { file: 'assets/main.js', type: 'text/javascript; charset=utf-8' },
  'main.css': { file: 'assets/main.css', type: 'text/css; charset=utf-8' },
};

/** Scripts and styles from this server only; the page's calls go to this server only. */
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// dist/dashboard from the built dist/http and from the sources' src/http (which tests run) alike.
const root = new URL('../../dist/dashboard/', import.meta.url);

const digest = (text: string) => createHash('sha256').update(text).digest();

export function serveDashboard(app: FastifyInstance, runtime: OperonRuntime): void {
  const cache = new Map<string, Promise<Buffer>>();
  const load = (file: string): Promise<Buffer> => {
    let content = cache.get(file);
    if (!content) {
      content = readFile(new URL(file, root));
      // A file missing now (a build in progress) is looked for again next time.
      content.catch(() => cache.delete(file));
      cache.set(file, content);
    }
    return content;
  };
  const send = async (file: string, type: string, reply: FastifyReply) => {
    let body: Buffer;
    try {
      body = await load(file);
    } catch {
      return reply.code(404).send({ error: `the dashboard was not built into this package (${file} is missing); run the workspace build` });
    }
    return reply.header('content-security-policy', CONTENT_SECURITY_POLICY).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').type(type).send(body);
  };
  app.get(DASHBOARD_PATH, (request, reply) => {
    const token = (request.query as Record<string, unknown>).token;
    if (typeof token !== 'string') return send('index.html', 'text/html; charset=utf-8', reply);
    // Checked here, before any cookie: the link replaces the cookie of an earlier start.
    const access = managementAccess(runtime);
    if (!access.acceptsToken || !timingSafeEqual(digest(token), digest(access.token))) {
      throw new OperonNotAuthenticatedError('the token in the link is not the management token (it changes at each start)');
    }
    reply.header('set-cookie', tokenCookie(request, access.token));
    return reply.redirect(DASHBOARD_PATH, 303);
  });
  app.get(`${DASHBOARD_PATH}/assets/:name`, (request, reply) => {
    const asset = FILES[(request.params as { name: string }).name];
    if (!asset) return reply.code(404).send({ error: 'no such dashboard file' });
    return send(asset.file, asset.type, reply);
  });
}
