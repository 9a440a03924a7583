/**
 * Regression: a 1 MiB JSON body of 500,000 nested arrays parsed (JSON.parse does not recurse),
 * then overflowed the stack wherever the value went next: answering it (JSON.stringify), recording
 * it as a workflow's input. Each such request was a 500 with a stack trace in the log, after half a
 * second of CPU. Nesting beyond runtimeConfig.maxJsonDepth is now a 400 before anything parses it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostApi, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, type OperonRuntime } from '@operon/runtime';
import { captureLogs } from '../helpers/log-capture.js';
import { startRuntime } from '../helpers/test-databases.js';

let recorded = 0;

class Deep {
  @Workflow()
  static async keep(_ctx: WorkflowContext, _value: unknown): Promise<number> {
    return ++recorded;
  }

  @PostApi('/echo')
  static async echo(_ctx: HandlerContext, value: unknown): Promise<unknown> {
    return { value };
  }

  @PostApi('/keep')
  static async postKeep(ctx: HandlerContext, value: unknown): Promise<number> {
    return (await ctx.invoke(Deep).keep(value)).getResult();
  }
}

const nested = (depth: number) => `{"value":${'['.repeat(depth)}${']'.repeat(depth)}}`;

let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;
const logs = captureLogs('warn');
beforeAll(async () => {
  runtime = await startRuntime([Deep]);
  app = await createHttpServer(runtime, { logger: logs.logger });
});
afterAll(async () => {
  await app?.close();
  await runtime?.destroy();
});

const post = (url: string, payload: string) => app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });

describe('a JSON body nested 500,000 deep', () => {
  it('is a 400 naming the limit, to a handler that answers it and to one that records it, with no error logged', async () => {
    for (const url of ['/echo', '/keep']) {
      const res = await post(url, nested(500_000));
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error).toBe('the request body nests deeper than 1000 levels (runtimeConfig.maxJsonDepth)');
    }
    expect(recorded).toBe(0);
    expect(logs.records().filter((line) => (line.level as number) >= 50)).toEqual([]);
  });

  it('counts brackets inside strings as text, and accepts nesting up to the limit', async () => {
    // The outer object is one level: 999 arrays inside it make 1000.
    const atLimit = await post('/echo', nested(999));
    expect(atLimit.statusCode).toBe(200);
    const inString = await post('/keep', JSON.stringify({ value: `\\"${'['.repeat(5_000)}` }));
    expect(inString.statusCode).toBe(200);
    expect((await post('/echo', nested(1_000))).statusCode).toBe(400);
  });
});
