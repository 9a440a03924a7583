/**
 * The dashboard's cookie authorized changes from any page on the same site: SameSite=Strict keeps
 * it off cross-site requests only, and a site ignores ports, so a page on http://localhost:8080
 * (or a sibling subdomain) could `fetch(…/operon/workflows/X/cancel, { method: 'POST', mode:
 * 'no-cors', credentials: 'include' })` and the browser sent the cookie: the workflow was
 * cancelled. A change authorized by the cookie now must come from the server's own origin
 * (Sec-Fetch-Site same-origin, or an Origin equal to the Host); a bearer token is sent by no
 * browser on its own, so it is not checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

type HttpServer = Awaited<ReturnType<typeof createHttpServer>>;
const TOKEN = 'a-token-for-the-cross-site-change-test';

class Waits {
  @Workflow()
  static async waits(ctx: WorkflowContext): Promise<unknown> {
    return ctx.recv('never', 600);
  }
}

let runtime: OperonRuntime;
let app: HttpServer;

beforeAll(async () => {
  runtime = await startRuntime([Waits], testConfig('reg_cross_site_change', { management: { token: TOKEN } }));
  app = await createHttpServer(runtime);
});

afterAll(async () => {
  await app?.close();
  await runtime?.destroy({ timeoutMs: 100 });
});

async function statusOf(uuid: string): Promise<string> {
  const rows = await query(runtime.config.database.system_database, 'SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]);
  return rows[0].status;
}

const cookie = `operon_token=${TOKEN}`;
const host = 'localhost:3000';

describe('changes authorized by the management cookie', () => {
  it('are refused from another origin of the same site, and the workflow keeps running', async () => {
    await runtime.client.invoke(Waits, { workflowUUID: 'cross-site-1' }).waits();
    const fromOtherPort = await app.inject({
      method: 'POST',
      url: '/operon/workflows/cross-site-1/cancel',
      headers: { host, cookie, origin: 'http://localhost:8080', 'sec-fetch-site': 'same-site' },
    });
    expect(fromOtherPort.statusCode, fromOtherPort.body).toBe(403);
    expect(fromOtherPort.body).toMatch(/origin/i);
    const noFetchMetadata = await app.inject({
      method: 'POST',
      url: '/operon/workflows/cross-site-1/cancel',
      headers: { host, cookie, origin: 'http://evil.localhost:3000' },
    });
    expect(noFetchMetadata.statusCode, noFetchMetadata.body).toBe(403);
    const bulk = await app.inject({
      method: 'POST',
      url: '/operon/workflows/cancel',
      headers: { host, cookie, 'sec-fetch-site': 'same-site', 'content-type': 'application/json' },
      payload: { name: 'Waits.waits' },
    });
    expect(bulk.statusCode, bulk.body).toBe(403);
    expect(await statusOf('cross-site-1')).toBe('PENDING');
    // Reads stay open to the cookie: they change nothing.
    const read = await app.inject({ method: 'GET', url: '/operon/workflows/cross-site-1', headers: { host, cookie, 'sec-fetch-site': 'same-site' } });
    expect(read.statusCode, read.body).toBe(200);
  });

  it('are accepted from the server own origin, and a bearer token is accepted from anywhere', async () => {
    await runtime.client.invoke(Waits, { workflowUUID: 'cross-site-2' }).waits();
    await runtime.client.invoke(Waits, { workflowUUID: 'cross-site-3' }).waits();
    const sameOrigin = await app.inject({
      method: 'POST',
      url: '/operon/workflows/cross-site-2/cancel',
      headers: { host, cookie, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' },
    });
    expect(sameOrigin.statusCode, sameOrigin.body).toBe(200);
    expect(await statusOf('cross-site-2')).toBe('CANCELLED');
    const bearer = await app.inject({
      method: 'POST',
      url: '/operon/workflows/cross-site-3/cancel',
      headers: { host, authorization: `Bearer ${TOKEN}`, origin: 'http://localhost:8080', 'sec-fetch-site': 'same-site' },
    });
    expect(bearer.statusCode, bearer.body).toBe(200);
    expect(await statusOf('cross-site-3')).toBe('CANCELLED');
  });
});
