/**
 * Regression: only the `operon-workflowuuid` header was checked. A UUID passed from code was taken
 * as it came: `''` was accepted (its first child became `-0`), so were 100 kB and whitespace, and
 * send destinations, topics, event keys and idempotency keys had rules of their own or none. One
 * rule now holds for all of them, from every entry point: 1 to 200 printable characters, no
 * whitespace; anything else is refused with OPERON_ERR_INVALID_IDENTIFIER.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostApi, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { writeAppDir, type AppDir } from '../helpers/app-dir.js';

const INVALID = 'OPERON_ERR_INVALID_IDENTIFIER';
const BAD: Record<string, string> = {
  empty: '',
  '100 kB': 'x'.repeat(100_000),
  'a space': 'has space',
  'a tab': 'has\ttab',
  'a newline': 'has\nnewline',
  'a control character': 'has\u0001control',
  'a DEL': 'has\u007fdel',
};
const LONGEST = 'u'.repeat(200);

/** The code a call was refused with, or 'accepted'. */
async function codeOf(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return 'accepted';
  } catch (error) {
    return String((error as { code?: unknown })?.code ?? `no code: ${(error as Error)?.message ?? error}`);
  }
}

const eachBad = async (call: (bad: string) => Promise<unknown>) => {
  const codes: Record<string, string> = {};
  for (const [name, bad] of Object.entries(BAD)) codes[name] = await codeOf(() => call(bad));
  return codes;
};
const allInvalid = Object.fromEntries(Object.keys(BAD).map((name) => [name, INVALID]));

class Ids {
  @Workflow()
  static async hello(_ctx: WorkflowContext, name: string): Promise<string> {
    return `hello ${name}`;
  }

  /** Calls each messaging operation with `bad` where an identifier goes; the code of each refusal. */
  @Workflow()
  static async misuse(ctx: WorkflowContext, bad: string): Promise<Record<string, string>> {
    return {
      sendDestination: await codeOf(() => ctx.send(bad, 'm', 'topic')),
      sendTopic: await codeOf(() => ctx.send('some-workflow', 'm', bad)),
      recvTopic: await codeOf(() => ctx.recv(bad, 0)),
      setEventKey: await codeOf(() => ctx.setEvent(bad, 'v')),
      getEventUUID: await codeOf(() => ctx.getEvent(bad, 'key', 0)),
      getEventKey: await codeOf(() => ctx.getEvent('some-workflow', bad, 0)),
    };
  }

  /** The longest valid identifiers, everywhere. */
  @Workflow()
  static async longest(ctx: WorkflowContext, id: string): Promise<unknown[]> {
    await ctx.send(id, 'm', id);
    await ctx.setEvent(id, 'v');
    return [await ctx.recv(id, 0), await ctx.getEvent(id, id, 0)];
  }

  @PostApi('/hello')
  static async helloHandler(ctx: HandlerContext, name: string): Promise<string> {
    return (await ctx.invoke(Ids).hello(name)).getResult();
  }

  /** Starts a workflow under a UUID from the body; answers the refusal's code. */
  @PostApi('/start-as')
  static async startAs(ctx: HandlerContext, uuid: string): Promise<string> {
    return codeOf(async () => (await ctx.invoke(Ids, uuid).hello('from code')).getResult());
  }

  @PostApi('/send-as')
  static async sendAs(ctx: HandlerContext, destination: string, topic: string, key: string): Promise<Record<string, string>> {
    return {
      destination: await codeOf(() => ctx.send(destination, 'm')),
      topic: await codeOf(() => ctx.send('some-workflow', 'm', topic)),
      idempotencyKey: await codeOf(() => ctx.send('some-workflow', 'm', 'topic', key)),
      eventKey: await codeOf(() => ctx.getEvent('some-workflow', key, 0)),
    };
  }
}

let app: AppDir;
let testRuntime: TestingRuntime | undefined;

beforeAll(async () => {
  app = writeAppDir('identifiers');
  testRuntime = await createTestingRuntime([Ids], app.configPath);
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('an invalid workflow UUID', () => {
  it('is refused from the testing runtime’s invoke', async () => {
    expect(await eachBad((bad) => testRuntime!.invoke(Ids, bad).hello('x'))).toEqual(allInvalid);
  });

  it('is refused from `ctx.invoke(Cls, uuid)` in a handler', async () => {
    const codes: Record<string, string> = {};
    for (const [name, bad] of Object.entries(BAD)) {
      const res = await testRuntime!.inject({ method: 'POST', url: '/start-as', payload: { uuid: bad } });
      codes[name] = res.statusCode === 200 ? res.body : `HTTP ${res.statusCode}`;
    }
    expect(codes).toEqual(allInvalid);
  });

  it('is refused with 400 from the operon-workflowuuid header', async () => {
    const statuses: Record<string, number> = {};
    for (const [name, bad] of Object.entries(BAD)) {
      const res = await testRuntime!.inject({ method: 'POST', url: '/hello', headers: { 'operon-workflowuuid': bad }, payload: { name: 'x' } });
      statuses[name] = res.statusCode;
    }
    expect(statuses).toEqual(Object.fromEntries(Object.keys(BAD).map((name) => [name, 400])));
  });

  it('of 200 characters is accepted, from each entry point', async () => {
    expect(await (await testRuntime!.invoke(Ids, LONGEST).hello('a')).getResult()).toBe('hello a');
    const viaHandler = await testRuntime!.inject({ method: 'POST', url: '/start-as', payload: { uuid: `h${LONGEST.slice(1)}` } });
    expect(viaHandler.body).toBe('accepted');
    const viaHeader = await testRuntime!.inject({ method: 'POST', url: '/hello', headers: { 'operon-workflowuuid': `r${LONGEST.slice(1)}` }, payload: { name: 'b' } });
    expect(viaHeader.statusCode).toBe(200);
    expect(viaHeader.body).toBe('hello b');
  });
});

describe('an invalid destination, topic, event key or idempotency key', () => {
  it('is refused from the testing runtime', async () => {
    expect(await eachBad((bad) => testRuntime!.send(bad, 'm'))).toEqual(allInvalid);
    expect(await eachBad((bad) => testRuntime!.send('some-workflow', 'm', bad))).toEqual(allInvalid);
    expect(await eachBad((bad) => testRuntime!.send('some-workflow', 'm', 'topic', bad))).toEqual(allInvalid);
    expect(await eachBad((bad) => testRuntime!.getEvent('some-workflow', bad, 0))).toEqual(allInvalid);
    expect(await eachBad((bad) => testRuntime!.getEvent(bad, 'key', 0))).toEqual(allInvalid);
  });

  it('is refused from a handler', async () => {
    const refused: Record<string, unknown> = {};
    for (const [name, bad] of Object.entries(BAD)) {
      const res = await testRuntime!.inject({ method: 'POST', url: '/send-as', payload: { destination: bad, topic: bad, key: bad } });
      refused[name] = res.statusCode === 200 ? res.json() : `HTTP ${res.statusCode}`;
    }
    const expected = { destination: INVALID, topic: INVALID, idempotencyKey: INVALID, eventKey: INVALID };
    expect(refused).toEqual(Object.fromEntries(Object.keys(BAD).map((name) => [name, expected])));
  });

  it('is refused inside a workflow, and the workflow goes on', async () => {
    const refused: Record<string, unknown> = {};
    for (const [name, bad] of Object.entries(BAD)) {
      refused[name] = await (await testRuntime!.invoke(Ids, `misuse-${Object.keys(refused).length}`).misuse(bad)).getResult();
    }
    const expected = { sendDestination: INVALID, sendTopic: INVALID, recvTopic: INVALID, setEventKey: INVALID, getEventUUID: INVALID, getEventKey: INVALID };
    expect(refused).toEqual(Object.fromEntries(Object.keys(BAD).map((name) => [name, expected])));
  });

  it('of 200 characters is accepted', async () => {
    const id = 'k'.repeat(200);
    await testRuntime!.send(id, 'm', id, id);
    expect(await testRuntime!.getEvent(id, id, 0)).toBeNull();
    expect(await (await testRuntime!.invoke(Ids, 'longest-1').longest(id)).getResult()).toEqual([null, null]);
  });
});
