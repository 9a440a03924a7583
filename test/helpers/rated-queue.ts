/**
 * A testing runtime on a virtual clock serving one rate-limited queue of one trivial workflow:
 * the rate-window tests each need exactly this, and differ only in the limit and what they do.
 */
import { afterAll, beforeAll } from 'vitest';
import { Workflow, WorkflowQueue, type WorkflowContext, type WorkflowHandle } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { makeAppDir, type TestAppDir } from '../testing-runtime/app-dir.js';

class RatedJobs {
  @Workflow()
  static async job(_ctx: WorkflowContext, label: string): Promise<string> {
    return `did ${label}`;
  }
}

export interface RatedQueue {
  /** The file's testing runtime (made in beforeAll, destroyed in afterAll). */
  runtime(): TestingRuntime;
  /** Enqueues `RatedJobs.job(label)` on the queue. */
  enqueue(label: string): Promise<WorkflowHandle<string>>;
  statusOf(handle: WorkflowHandle<string>): Promise<string | undefined>;
}

/** Registers the file's beforeAll/afterAll: a queue `name` of `limitPerPeriod` starts a minute. */
export function useRatedQueue(name: string, limitPerPeriod: number): RatedQueue {
  const queue = new WorkflowQueue(name, { rateLimit: { limitPerPeriod, periodSec: 60 } });
  let testRuntime: TestingRuntime | undefined;
  let app: TestAppDir | undefined;
  beforeAll(async () => {
    app = makeAppDir(name.replace(/[^a-z]/g, '').slice(0, 12), {});
    testRuntime = await createTestingRuntime([RatedJobs], app.configPath, { clock: 'virtual' });
  });
  afterAll(async () => {
    await testRuntime?.destroy();
    app?.remove();
  });
  const runtime = () => {
    if (!testRuntime) throw new Error('useRatedQueue: the testing runtime is made in beforeAll');
    return testRuntime;
  };
  return {
    runtime,
    enqueue: (label) => (runtime().invoke(RatedJobs, { queue }) as unknown as { job(label: string): Promise<WorkflowHandle<string>> }).job(label),
    statusOf: async (handle) => (await handle.getStatus())?.status,
  };
}
