/**
 * Regression: the identifier rule (client/identifiers.ts, `^[^\p{Cc}\p{Z}\s]+$`) lets lone UTF-16
 * surrogates through. They are not printable characters, and Postgres cannot store them: the
 * driver's UTF-8 encoding turns every one into U+FFFD, so distinct UUIDs, topics and keys become
 * the same row. A client UUID 'order\uD800' (JSON.parse gives it from "order\ud800" in a request
 * body) joins the workflow started as 'order\uDFFF' and is handed its result; an event set under
 * one key is read under another. Such identifiers must be refused as invalid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { rejectionOf, writeAppDir, type AppDir } from '../helpers/app-dir.js';

let runs = 0;

class Orders {
  @Workflow()
  static async place(ctx: WorkflowContext, item: string): Promise<string> {
    runs++;
    return `${ctx.workflowUUID === 'order\uD800' ? 'first' : 'second'} placed ${item}`;
  }
}

let app: AppDir;
let testRuntime: TestingRuntime | undefined;

beforeAll(async () => {
  app = writeAppDir('surrogate', { logLevel: 'fatal' });
  testRuntime = await createTestingRuntime([Orders], app.configPath);
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

const code = (error: unknown) => (error as { code?: string }).code;

describe('identifiers holding a lone surrogate', () => {
  it('are refused as workflow UUIDs, never mapped onto another workflow', async () => {
    /** The code of the refusal, or the result the UUID was handed. */
    const outcome = async (uuid: string) => {
      try {
        return await (await testRuntime!.invoke(Orders, uuid).place('book')).getResult();
      } catch (error) {
        return code(error);
      }
    };
    const first = await outcome('order\uD800');
    const second = await outcome('order\uDFFF');
    expect({ first, second, runs }).toEqual({
      first: 'OPERON_ERR_INVALID_IDENTIFIER',
      second: 'OPERON_ERR_INVALID_IDENTIFIER',
      runs: 0,
    });
  });

  it('are refused as event keys and destinations', async () => {
    expect(code(await rejectionOf(testRuntime!.getEvent('anyone', 'key\uD800', 0)))).toBe('OPERON_ERR_INVALID_IDENTIFIER');
    expect(code(await rejectionOf(testRuntime!.send('dest\uDBFF', 'hello')))).toBe('OPERON_ERR_INVALID_IDENTIFIER');
  });
});
