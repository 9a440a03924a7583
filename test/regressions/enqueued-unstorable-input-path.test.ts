/**
 * An unstorable input is named by the same path whether the workflow is started or enqueued:
 * `inputs[0].callback`, the path the contract gives, not `value[0].callback`.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OperonValueNotSerializableError, Workflow, WorkflowQueue, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig } from '../helpers/test-databases.js';

const queue = new WorkflowQueue('unstorable-input-path');

class Takes {
  @Workflow()
  static async options(_ctx: WorkflowContext, options: Record<string, unknown>): Promise<string> {
    return Object.keys(options).join(',');
  }
}

let runtime: OperonRuntime;
beforeAll(async () => {
  runtime = await startRuntime([Takes], testConfig('unstinput'));
});
afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 1_000 });
});

async function refusal(start: () => Promise<unknown>): Promise<OperonValueNotSerializableError> {
  try {
    await start();
  } catch (error) {
    return error as OperonValueNotSerializableError;
  }
  throw new Error('expected the input to be refused');
}

type Proxy = { options(options: Record<string, unknown>): Promise<unknown> };

it('names inputs[0].callback for a started and an enqueued workflow alike', async () => {
  const input = { callback: () => 'no' };
  const started = await refusal(() => (runtime.client.invoke(Takes) as unknown as Proxy).options(input));
  const enqueued = await refusal(() => (runtime.client.invoke(Takes, { queue: { queue } }) as unknown as Proxy).options(input));
  expect(started).toBeInstanceOf(OperonValueNotSerializableError);
  expect(started.path).toBe('inputs[0].callback');
  expect(enqueued).toBeInstanceOf(OperonValueNotSerializableError);
  expect(enqueued.path).toBe('inputs[0].callback');
});
