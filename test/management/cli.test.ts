/**
 * `operon workflows` as a user runs it (the built CLI, in child processes) on the database a
 * config names, beside a running runtime and with no server: --json prints the API's shapes;
 * cancel stops a parked workflow, resume hands it to the live executor, which adopts it at its
 * next heartbeat; fork and bulk cancel work the same; tables fit the terminal's width.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Communicator, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { formatTable } from '../../packages/cli/src/commands/workflows.js';
import { assertCliBuilt, operon } from '../cli/cli-process.js';
import { cliFolderFor } from '../helpers/cli-folder.js';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

class Parcel {
  @Communicator()
  static async weigh(_ctx: CommunicatorContext, grams: number): Promise<number> {
    return grams;
  }

  @Workflow()
  static async ship(ctx: WorkflowContext, grams: number): Promise<string> {
    const weight = await ctx.invoke(Parcel).weigh(grams);
    const label = await ctx.recv<string>('label', 600);
    return `${label}:${weight}`;
  }
}

const config = testConfig('mgmt_cli');
let runtime: OperonRuntime;
const folder = cliFolderFor(config, 'workflows');

async function cli(args: string[]) {
  const result = await operon(['workflows', ...args], { cwd: folder.dir });
  expect(result.code, result.stderr).toBe(0);
  return result;
}
const cliJson = async (args: string[]) => JSON.parse((await cli([...args, '--json'])).stdout);

beforeAll(async () => {
  assertCliBuilt();
  runtime = await startRuntime([Parcel], config);
  for (const i of [1, 2, 3]) await runtime.client.invoke(Parcel, { workflowUUID: `parcel-${i}` }).ship(i * 100);
  const { database } = config;
  // Every parcel waits for its label.
  for (;;) {
    const rows = await query(database.system_database, `SELECT 1 FROM operon.operation_outputs WHERE function_name = 'operon.recv.deadline'`);
    if (rows.length === 3) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
});

afterAll(async () => {
  await runtime?.destroy({ timeoutMs: 100 });
  folder.remove();
});

describe('operon workflows', () => {
  it('lists, gets and shows steps with --json in the shapes of the API', async () => {
    const page = await cliJson(['list', '--status', 'PENDING', '--limit', '2']);
    expect(page.workflows.map((w: { workflowUUID: string }) => w.workflowUUID)).toEqual(['parcel-3', 'parcel-2']);
    expect(page.nextCursor).toEqual(expect.any(String));
    // --queue and --version reach the filter: none of these went through a queue or has that version.
    expect((await cliJson(['list', '--status', 'PENDING', '--queue', 'no-such-queue', '--version', 'no-such-version'])).workflows).toEqual([]);
    const detail = await cliJson(['get', 'parcel-1']);
    expect(detail).toMatchObject({ workflowUUID: 'parcel-1', inputs: [100], waitingOn: { kind: 'recv', functionID: 2 }, stuck: false });
    const steps = await cliJson(['steps', 'parcel-1']);
    // The CLI reads without the app's code: the communicator's kind is unknown to it.
    expect(steps.steps).toMatchObject([
      { functionID: 0, functionName: 'Parcel.weigh', kind: 'operation', output: 100 },
      { functionID: 1, kind: 'deadline' },
    ]);
    const table = await cli(['list', '--cursor', page.nextCursor]);
    expect(table.stdout.split('\n')[0]).toMatch(/^UUID\s+STATUS\s+NAME\s+EXECUTOR\s+CREATED$/);
    expect(table.stdout).toMatch(/^parcel-1\s+PENDING\s+Parcel\.ship/m);
  });

  it('cancels and resumes from the command line; the live executor adopts the resumed one', async () => {
    expect(await cliJson(['cancel', 'parcel-1'])).toEqual({ changed: 1, workflowUUIDs: ['parcel-1'] });
    await expect(runtime.client.retrieveWorkflow('parcel-1').getResult()).rejects.toThrow('workflow parcel-1 was cancelled');
    expect(await cliJson(['resume', 'parcel-1'])).toEqual({ changed: 1, workflowUUIDs: ['parcel-1'] });
    await runtime.client.send('parcel-1', 'express', 'label');
    await expect(runtime.client.retrieveWorkflow('parcel-1').getResult()).resolves.toBe('express:100');
  });

  it('forks, and cancels in bulk by filter with a line of progress', async () => {
    const forked = await cliJson(['fork', 'parcel-1', '--from-step', '1', '--workflow-uuid', 'parcel-1-again']);
    expect(forked).toEqual({ workflowUUID: 'parcel-1-again' });
    const bulk = await operon(['workflows', 'cancel', '--status', 'PENDING', '--name', 'Parcel.ship', '--json'], { cwd: folder.dir });
    expect(bulk.code, bulk.stderr).toBe(0);
    expect(bulk.stderr).toMatch(/^cancelling the workflows matching \{"status":\["PENDING"\],"name":"Parcel\.ship"\}…$/m);
    // parcel-2, parcel-3 and the fork (not yet adopted, or waiting for its label).
    expect(JSON.parse(bulk.stdout)).toEqual({ changed: 3 });
    const audit = await query(config.database.system_database, 'SELECT actor, action FROM operon.audit_log ORDER BY audit_id');
    expect(audit.map((a) => a.action)).toEqual(['cancel', 'resume', 'fork', 'bulk-cancel']);
    expect(audit[0].actor).toMatch(/^cli:.+@.+$/);
  });

  it('names a bad flag value', async () => {
    const bad = await operon(['workflows', 'list', '--status', 'DONE'], { cwd: folder.dir });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/status must be one or more of PENDING/);
  });

  it('cuts the widest columns so that every line fits the terminal', () => {
    const rows = [
      ['UUID', 'STATUS', 'NAME'],
      ['a-very-long-workflow-uuid-that-would-wrap-0123456789', 'PENDING', 'Shop.order'],
    ];
    const text = formatTable(rows, 40);
    for (const line of text.trimEnd().split('\n')) expect(line.length).toBeLessThanOrEqual(40);
    expect(text).toContain('…');
    expect(formatTable(rows, undefined)).toContain('0123456789');
  });
});
