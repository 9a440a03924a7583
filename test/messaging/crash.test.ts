/**
 * SIGKILL a process while its workflows wait in recv, sleep and getEvent, while two of them play
 * ping-pong, and after messages were sent to a workflow that has not read them yet. After a
 * restart every message is received exactly once and every wait ends at its original deadline.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OperonRuntime, createLogger, resolveConfig } from '@operon/runtime';
import { bundleFixture, spawnApp } from '../helpers/child-app.js';
import { behindPooler, query, testConfigInput } from '../helpers/test-databases.js';
import { until } from './messaging-helpers.js';

// Behind a pooler every round trip is longer, and the run up to the kill too.
// On a loaded machine the run up to the kill takes seconds more: the kill must come before the
// first deadline (the late messages must still be waiting).
const WAIT_SECONDS = behindPooler() ? 12 : 8;
const ROUNDS = 200;

const input = testConfigInput('msgcrash');
const sys = input.database.system_database as string;
let bundle: string;
let sender: OperonRuntime;

beforeAll(async () => {
  bundle = await bundleFixture('messaging-app.ts');
});

afterAll(async () => {
  await sender?.destroy({ timeoutMs: 0 });
  rmSync(bundle, { force: true });
});

const starts = [
  { uuid: 'recv-wf', fn: 'receiveMany', args: ['jobs', 3] },
  { uuid: 'late-wf', fn: 'sleepThenReceive', args: [WAIT_SECONDS, 'later', 4] },
  { uuid: 'sender-wf', fn: 'sendThenWait', args: ['late-wf', 'later', ['from-sender-0', 'from-sender-1']] },
  { uuid: 'sleep-wf', fn: 'sleeper', args: [WAIT_SECONDS] },
  { uuid: 'recv-timeout-wf', fn: 'recvTimeout', args: [WAIT_SECONDS] },
  { uuid: 'event-timeout-wf', fn: 'getEventTimeout', args: [WAIT_SECONDS] },
  { uuid: 'event-wf', fn: 'awaitEvent', args: ['publisher-wf', 'ready'] },
  { uuid: 'publisher-wf', fn: 'publishOnRequest', args: ['ready', 'yes'] },
  { uuid: 'ping-wf', fn: 'pinger', args: ['pong-wf', ROUNDS] },
  { uuid: 'pong-wf', fn: 'ponger', args: ['ping-wf', ROUNDS] },
];

async function recordCount(uuid: string, functionName?: string): Promise<number> {
  const [row] = await query(
    sys,
    'SELECT count(*)::int AS n FROM operon.operation_outputs WHERE workflow_uuid = $1 AND ($2::text IS NULL OR function_name = $2)',
    [uuid, functionName ?? null],
  );
  return row.n;
}

/** The recorded deadline of each timed wait: (workflow, function id) → epoch ms. */
async function deadlines(): Promise<Map<string, number>> {
  const rows = await query(
    sys,
    `SELECT workflow_uuid, function_id, output FROM operon.operation_outputs
     WHERE function_name IN ('operon.sleep', 'operon.recv.deadline', 'operon.getEvent.deadline')
       AND workflow_uuid IN ('sleep-wf', 'recv-timeout-wf', 'event-timeout-wf', 'late-wf')`,
  );
  return new Map(rows.map((r) => [`${r.workflow_uuid}#${r.function_id}`, Number(r.output)]));
}

it('receives every message exactly once and keeps every deadline across a SIGKILL', async () => {
  const config = resolveConfig(input, { file: '', appDir: process.cwd() });
  const first = spawnApp(bundle, { MSG_CONFIG: JSON.stringify(input), MSG_START: JSON.stringify(starts) });
  await first.waitForLine(/^READY/);
  // A runtime in this process that only sends (it recovers nothing).
  sender = await OperonRuntime.create({ config, classes: [], logger: createLogger('warn') });
  const send = sender.messaging.send.bind(sender.messaging);

  await until('every workflow to start', async () => (await query(sys, 'SELECT 1 FROM operon.workflow_status')).length === starts.length);
  await send('recv-wf', 'j1', 'jobs');
  await until('recv-wf to receive j1', async () => (await recordCount('recv-wf', 'operon.recv')) === 1);
  // Messages for late-wf, which sleeps: they must wait in the table through the crash.
  await send('late-wf', 'ext-1', 'later');
  await send('late-wf', 'ext-keyed', 'later', 'late-key');
  await send('late-wf', 'ext-keyed', 'later', 'late-key');
  await until('sender-wf to send both messages', async () => (await recordCount('sender-wf', 'operon.send')) === 2);
  await until('every timed wait to record its deadline', async () => (await deadlines()).size === 4);
  const before = await deadlines();
  // Long enough after the deadlines were recorded (the last of them too: on a loaded machine they
  // can be seconds apart) that a wait started over would show.
  const firstRecordedAt = Math.min(...before.values()) - WAIT_SECONDS * 1000;
  const lastRecordedAt = Math.max(...before.values()) - WAIT_SECONDS * 1000;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastRecordedAt + 2500 - Date.now())));
  // Ping-pong in full flight when the kill lands.
  await send('ping-wf', null, 'start');
  // Or, on a loaded machine, 1 s before the first deadline: the kill must land before it.
  const killBy = firstRecordedAt + WAIT_SECONDS * 1000 - 1000;
  while ((await recordCount('ping-wf')) < 60 && Date.now() < killBy) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(await first.kill('SIGKILL')).toBe('SIGKILL');
  const pingRecordsAtKill = await recordCount('ping-wf');
  const [pending] = await query(sys, "SELECT count(*)::int AS n FROM operon.notifications WHERE destination_uuid = 'late-wf'");
  expect(pending.n).toBe(4);

  const restartedAt = Date.now();
  const second = spawnApp(bundle, { MSG_CONFIG: JSON.stringify(input), MSG_AWAIT: JSON.stringify(starts.map((s) => s.uuid)) });
  await second.waitForLine(/^READY/);
  // A deadline that passed while no process ran ends at the recovery, which printed READY.
  const recoveredAt = Date.now();
  await send('recv-wf', 'j2', 'jobs');
  await send('recv-wf', 'j3', 'jobs');
  await send('sender-wf', null, 'finish');
  await send('publisher-wf', null, 'publish');
  const done = await second.waitForLine(/^DONE/, 45_000);
  const lagMs = Number(/lag=(\d+)/.exec(done)?.[1] ?? 0);
  expect(await second.exited).toBe(0);

  const rows = await query(sys, 'SELECT workflow_uuid, status, output FROM operon.workflow_status');
  const outputs = new Map(rows.map((r) => [r.workflow_uuid, r.status === 'SUCCESS' ? JSON.parse(r.output ?? 'null') : r.status]));
  expect(outputs.get('recv-wf')).toEqual(['j1', 'j2', 'j3']);
  const late = outputs.get('late-wf') as unknown[];
  expect(late.slice(0, 4).sort()).toEqual(['ext-1', 'ext-keyed', 'from-sender-0', 'from-sender-1']);
  expect(late[4]).toBeNull();
  expect(outputs.get('sender-wf')).toBe('sent');
  expect(outputs.get('event-wf')).toBe('yes');
  expect(outputs.get('ping-wf')).toEqual(Array.from({ length: ROUNDS }, (_, i) => i * 10));
  expect(outputs.get('pong-wf')).toBe((ROUNDS * (ROUNDS - 1)) / 2);
  expect(await query(sys, 'SELECT destination_uuid, topic, message FROM operon.notifications')).toEqual([]);

  // Every deadline is the one recorded before the kill, and each wait ended there.
  const after = await deadlines();
  for (const [key, deadline] of before) expect(after.get(key), key).toBe(deadline);
  const deadlineOf = (uuid: string) => [...before].find(([key]) => key.startsWith(`${uuid}#`))![1];
  // How late a wait may end: 1.5 s, or on a loaded machine as long as the restart took to start
  // and recover, plus the longest the restarted process's event loop was held up (its timers fire
  // that late). The check below tells a wait started over at the restart apart whatever this is.
  const lateness = Math.max(1500, recoveredAt - restartedAt) + lagMs;
  for (const uuid of ['sleep-wf', 'recv-timeout-wf', 'event-timeout-wf']) {
    const { at, value } = outputs.get(uuid) as { at: number; value?: unknown };
    expect(value ?? null).toBeNull();
    // Deadlines are by the database's clock; this process reads it within a few ms. The wait ends
    // at its deadline, or at the recovery when the restart came after it (a loaded machine).
    expect(at, uuid).toBeGreaterThanOrEqual(deadlineOf(uuid) - 25);
    expect(at, uuid).toBeLessThan(Math.max(deadlineOf(uuid), recoveredAt) + lateness);
    // A wait started over at the restart would have ended later than this.
    expect(at, uuid).toBeLessThan(restartedAt + WAIT_SECONDS * 1000 - 1000);
  }
  console.log(
    `messaging crash test: killed with ping-pong at ${pingRecordsAtKill} of ${ROUNDS * 3 + 2} records, ` +
      `restarted ${Math.round((restartedAt - firstRecordedAt) / 100) / 10} s after the first deadline was recorded, ` +
      `recovered ${recoveredAt - restartedAt} ms after the restart, event loop held up ${lagMs} ms at most (waits may end ${lateness} ms late)`,
  );
});
