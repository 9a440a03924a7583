/**
 * Values across a SIGKILL: a workflow handed values of every kind, and getting more from a
 * communicator, a transaction, an event and a message, is killed after all of them are recorded
 * and before its end is. The recovered run (another process) sees exactly what the first run saw,
 * runs no operation again, and its result and event read back as given in this process too.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OperonRuntime, createLogger, resolveConfig } from '@operon/runtime';
import { bundleFixture, spawnApp } from '../helpers/child-app.js';
import { testConfigInput } from '../helpers/test-databases.js';
import { Money, describeValue, sampleValue } from '../fixtures/value-samples.js';

const input = testConfigInput('valcrash');
let bundle: string;
let dir: string;
let reader: OperonRuntime | undefined;

beforeAll(async () => {
  bundle = await bundleFixture('values-crash-app.ts');
  dir = mkdtempSync(join(tmpdir(), 'operon-values-crash-'));
});

afterAll(async () => {
  await reader?.destroy({ timeoutMs: 0 });
  rmSync(dir, { recursive: true, force: true });
  rmSync(bundle, { force: true });
});

interface LogLine {
  run: number;
  kind: 'called' | 'inputs' | 'seen';
  text: string;
}

it('a recovered run sees exactly the values the first run saw, and so does every later reader', async () => {
  const logFile = join(dir, 'runs.jsonl');
  writeFileSync(logFile, '');
  const env = { VALUES_CONFIG: JSON.stringify(input), VALUES_LOG: logFile };
  const first = spawnApp(bundle, { ...env, VALUES_RUN: '1', VALUES_START: 'values-crash-1' });
  expect(await first.exited).toBe('SIGKILL');
  const second = spawnApp(bundle, { ...env, VALUES_RUN: '2', VALUES_AWAIT: 'values-crash-1' });
  await second.waitForLine(/^DONE/, 60_000);
  expect(await second.exited).toBe(0);

  const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine);
  const of = (run: number, kind: LogLine['kind']) => lines.filter((l) => l.run === run && l.kind === kind).map((l) => l.text);
  // Each operation ran once, in the first run; the recovered run replayed them.
  expect(of(1, 'called')).toEqual(['make', 'inTx']);
  expect(of(2, 'called')).toEqual([]);
  const expectedSeen = describeValue({
    input: sampleValue('input'),
    money: new Money(250n, 'USD'),
    fromCommunicator: sampleValue('communicator'),
    fromTransaction: sampleValue('transaction'),
    message: sampleValue('message'),
  });
  expect(of(1, 'inputs')).toEqual([describeValue([sampleValue('input'), new Money(250n, 'USD')])]);
  expect(of(2, 'inputs')).toEqual(of(1, 'inputs'));
  expect(of(1, 'seen')).toEqual([expectedSeen]);
  expect(of(2, 'seen')).toEqual(of(1, 'seen'));

  const config = resolveConfig(input, { file: '', appDir: process.cwd() });
  reader = await OperonRuntime.create({ config, classes: [], logger: createLogger('warn') });
  expect(describeValue(await reader.client.retrieveWorkflow('values-crash-1').getResult())).toBe(expectedSeen);
  expect(describeValue(await reader.client.getEvent('values-crash-1', 'sample', 1))).toBe(describeValue(sampleValue('event')));
}, 120_000);
