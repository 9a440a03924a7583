/**
 * Idempotency keys of `send` were one global space: a message with key K to workflow A made every
 * later message with key K to any other workflow vanish, so one client could block another's
 * messages by guessing or reusing its keys. A key now counts per destination.
 */
type FastifyInstance = Awaited<ReturnType<typeof createHttpServer>>;
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostApi, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { startRuntime } from '../helpers/test-databases.js';

class Mailbox {
  @Workflow()
  static async inbox(ctx: WorkflowContext): Promise<unknown[]> {
    return [await ctx.recv('mail', 5), await ctx.recv('mail', 1)];
  }

  @PostApi('/mailboxes/:name')
  static async open(ctx: HandlerContext, name: string): Promise<string> {
    const handle = await ctx.invoke(Mailbox, `mailbox-${name}`).inbox();
    return handle.getWorkflowUUID();
  }

  @PostApi('/send/:to/:key')
  static async send(ctx: HandlerContext, to: string, key: string, text: string): Promise<void> {
    await ctx.send(`mailbox-${to}`, text, 'mail', key);
  }

  @PostApi('/mailboxes/:name/result')
  static async result(ctx: HandlerContext, name: string): Promise<unknown> {
    return ctx.retrieveWorkflow(`mailbox-${name}`).getResult();
  }
}

let runtime: OperonRuntime;
let app: FastifyInstance;
beforeAll(async () => {
  runtime = await startRuntime([Mailbox]);
  app = await createHttpServer(runtime);
});
afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

const post = (url: string, payload?: object) => app.inject({ method: 'POST', url, payload });

describe('an idempotency key', () => {
  it('delivers once per destination, and never blocks another destination', async () => {
    expect((await post('/mailboxes/alice')).statusCode).toBe(200);
    expect((await post('/mailboxes/bob')).statusCode).toBe(200);
    // Mallory uses the key Bob's sender will use, on a message to a mailbox of her own choosing.
    expect((await post('/send/alice/order-1', { text: 'for alice' })).statusCode).toBe(204);
    expect((await post('/send/bob/order-1', { text: 'for bob' })).statusCode).toBe(204);
    // A retry to the same destination is still delivered only once.
    expect((await post('/send/bob/order-1', { text: 'for bob' })).statusCode).toBe(204);
    expect((await post('/mailboxes/alice/result')).json()).toEqual(['for alice', null]);
    expect((await post('/mailboxes/bob/result')).json()).toEqual(['for bob', null]);
  });
});
