/**
 * Regression: what a workflow threw reached its callers in two forms. A thrown string or number
 * came raw to a caller in the same process but as an Error to a caller reading the record; a
 * thrown null-prototype object could not be recorded at all and left the workflow PENDING
 * forever; and a recorded error whose own `code` field read `OPERON_ERR_…` (an upstream service's
 * 409, say) came back branded as an Operon error. Every caller now gets the same error, every
 * such workflow ends ERROR, and only Operon's own errors are Operon errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, OperonError, OperonWorkflowConflictError, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { rejectionOf, within, writeAppDir, type AppDir } from '../helpers/app-dir.js';

class Throws {
  @Workflow()
  static async aString(_ctx: WorkflowContext): Promise<void> {
    throw 'the order was not found';
  }

  @Workflow()
  static async aNumber(_ctx: WorkflowContext): Promise<void> {
    throw 404;
  }

  @Workflow()
  static async aNullPrototypeObject(_ctx: WorkflowContext): Promise<void> {
    throw Object.assign(Object.create(null) as object, { reason: 'no prototype', status: 418 });
  }

  @Communicator({ retriesAllowed: false })
  static async callUpstream(_ctx: CommunicatorContext): Promise<string> {
    // What an HTTP client library might throw for an upstream 409, code and all.
    throw Object.assign(new Error('upstream answered 409 Conflict'), { code: 'OPERON_ERR_WORKFLOW_CONFLICT', status: 409 });
  }

  @Workflow()
  static async upstreamConflict(ctx: WorkflowContext): Promise<Record<string, unknown>> {
    try {
      return { result: await ctx.invoke(Throws).callUpstream() };
    } catch (error) {
      const e = error as { code?: unknown; message?: unknown; status?: unknown };
      return {
        operonError: error instanceof OperonError,
        conflictError: error instanceof OperonWorkflowConflictError,
        code: e.code,
        status: e.status,
        message: e.message,
      };
    }
  }
}

/** What a caller can tell of a rejection: name, message and own enumerable properties, or the value itself. */
function shapeOf(error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return { thrown: error };
  const own: Record<string, unknown> = {};
  for (const key of Object.keys(error)) own[key] = (error as Record<string, unknown>)[key];
  return { name: (error as { name?: unknown }).name, message: (error as { message?: unknown }).message, own };
}

const THROWERS = ['aString', 'aNumber', 'aNullPrototypeObject'] as const;

let app: AppDir;
let first: TestingRuntime | undefined;
let fresh: TestingRuntime | undefined;

beforeAll(() => {
  app = writeAppDir('nonerror', { logLevel: 'error' });
});

afterAll(async () => {
  await first?.destroy();
  await fresh?.destroy();
  app?.remove();
});

describe('a workflow that throws something other than an Error', () => {
  it('ends ERROR, and a local caller and a recorded caller get the same rejection', async () => {
    first = await createTestingRuntime([Throws], app.configPath);
    const local: Record<string, unknown> = {};
    const statuses: Record<string, unknown> = {};
    for (const name of THROWERS) {
      const handle = await first.invoke(Throws, `throws-${name}`)[name]();
      local[name] = shapeOf(await within(rejectionOf(handle.getResult()), 5_000, 'no rejection after 5 s'));
      let status: string | undefined;
      for (let i = 0; i < 30 && (status = (await handle.getStatus())?.status) === 'PENDING'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      statuses[name] = status;
    }
    await first.destroy();
    first = undefined;

    fresh = await createTestingRuntime([Throws], app.configPath, { dropSystemDB: false });
    const recorded: Record<string, unknown> = {};
    for (const name of THROWERS) {
      recorded[name] = shapeOf(await within(rejectionOf(fresh.retrieveWorkflow(`throws-${name}`).getResult()), 3_000, 'no rejection after 3 s'));
    }
    expect({ statuses, rejections: local }).toEqual({
      statuses: { aString: 'ERROR', aNumber: 'ERROR', aNullPrototypeObject: 'ERROR' },
      rejections: recorded,
    });
  });
});

describe('a recorded error whose own code reads like an Operon code', () => {
  it('keeps its code and message, and is not an Operon error', async () => {
    fresh ??= await createTestingRuntime([Throws], app.configPath);
    const seen = await (await fresh.invoke(Throws, 'upstream-1').upstreamConflict()).getResult();
    expect(seen).toEqual({
      operonError: false,
      conflictError: false,
      code: 'OPERON_ERR_WORKFLOW_CONFLICT',
      status: 409,
      message: 'upstream answered 409 Conflict',
    });
  });
});
