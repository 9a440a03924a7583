/**
 * `operon executors` and `GET /operon/executors` list the executors of a system database: the
 * live one with its workflows, and a stopped one. The CLI reads the database the config names,
 * with no server; the route answers callers with a management identity only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, managementAccess, type OperonRuntime } from '@operon/runtime';
import { startRuntime, testConfig, withExecutorId } from '../helpers/test-databases.js';
import { assertCliBuilt, operon } from '../cli/cli-process.js';
import { cliFolderFor } from '../helpers/cli-folder.js';

class Parked {
  @Workflow()
  static async park(ctx: WorkflowContext): Promise<unknown> {
    return ctx.recv('never', 30);
  }
}

const config = withExecutorId(testConfig('listing'), 'lister-live');
let live: OperonRuntime;
const folder = cliFolderFor(config, 'executors');

beforeAll(async () => {
  assertCliBuilt();
  const stopped = await startRuntime([Parked], withExecutorId(config, 'lister-stopped'));
  await stopped.destroy({ timeoutMs: 100 });
  live = await startRuntime([Parked], config);
  for (const i of [1, 2, 3]) await live.client.invoke(Parked, { workflowUUID: `parked-${i}` }).park();
});

afterAll(async () => {
  await live?.destroy({ timeoutMs: 100 });
  folder.remove();
});

describe('listing executors', () => {
  it('prints each executor from the command line, with its state and workflows', async () => {
    const json = await operon(['executors', '--json'], { cwd: folder.dir });
    expect(json.code, json.stderr).toBe(0);
    const rows = JSON.parse(json.stdout) as { executorId: string; state: string; alive: boolean; workflows: number; pid: number }[];
    const byId = new Map(rows.map((row) => [row.executorId, row]));
    // The stopped one handed its workflows over (none), the live one holds the three parked.
    expect(byId.get('lister-live')).toMatchObject({ state: 'live', alive: true, workflows: 3, pid: process.pid });
    expect(byId.get('lister-stopped')).toMatchObject({ state: 'stopped', alive: false, workflows: 0 });
    const table = await operon(['executors'], { cwd: folder.dir });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^EXECUTOR\s+HOST\s+PID\s+STARTED\s+LAST HEARTBEAT\s+STATE\s+WORKFLOWS$/);
    expect(table.stdout).toMatch(/lister-live .* alive\s+3\n/);
  });

  it('answers GET /operon/executors to a management identity, and refuses other callers', async () => {
    const app = await createHttpServer(live);
    try {
      const authorization = `Bearer ${managementAccess(live).token}`;
      const admin = await app.inject({ method: 'GET', url: '/operon/executors', headers: { authorization } });
      expect(admin.statusCode).toBe(200);
      expect(admin.json()).toEqual(expect.arrayContaining([expect.objectContaining({ executorId: 'lister-live', alive: true, workflows: 3 })]));
      // Being on this machine is no identity.
      const anonymous = await app.inject({ method: 'GET', url: '/operon/executors' });
      expect(anonymous.statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });
});
