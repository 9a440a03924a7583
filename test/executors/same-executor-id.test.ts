/**
 * Two `operon start` launched at the same instant with the same explicit OPERON_EXECUTOR_ID:
 * exactly one serves, the other refuses with one line naming the holder (its pid and host).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertCliBuilt } from '../cli/cli-process.js';
import { killAll, prepareFleetApp, spawnExecutor, startWorkflows, allEnded, type FleetApp, type FleetProcess } from './fleet.js';

let app: FleetApp;
const executors: FleetProcess[] = [];

beforeAll(async () => {
  assertCliBuilt();
  app = await prepareFleetApp('exsame');
});

afterAll(async () => {
  await killAll(executors);
  app?.remove();
});

type Outcome = { kind: 'serves' } | { kind: 'exited'; code: number | null };

async function outcomeOf(executor: FleetProcess): Promise<Outcome> {
  // waitFor rejects when the process ends first: then the outcome is its exit.
  return executor.server.waitFor(/operon: serving on/, 60_000).then(
    () => ({ kind: 'serves' as const }),
    async () => ({ kind: 'exited' as const, code: (await executor.server.exited).code }),
  );
}

describe('two starts with one explicit executor id', () => {
  for (const round of [1, 2]) {
    it(`exactly one serves, the other refuses naming the holder (round ${round})`, async () => {
      const id = `twin-${randomBytes(3).toString('hex')}`;
      const pair = await Promise.all([spawnExecutor(app, { executorId: id }), spawnExecutor(app, { executorId: id })]);
      executors.push(...pair);
      const outcomes = await Promise.all(pair.map(outcomeOf));
      const serving = pair.filter((_, i) => outcomes[i]!.kind === 'serves');
      const refused = pair.filter((_, i) => outcomes[i]!.kind === 'exited');
      expect(outcomes.map((o) => o.kind).sort(), pair.map((p) => p.output()).join('\n----\n')).toEqual(['exited', 'serves']);
      const [holder] = serving as [FleetProcess];
      const [loser] = refused as [FleetProcess];
      expect(outcomes[pair.indexOf(loser)]).toEqual({ kind: 'exited', code: 1 });
      const lines = loser.output().trimEnd().split('\n');
      expect(lines, loser.output()).toHaveLength(1);
      expect(lines[0]).toContain(`executor id ${id} is held by a live executor`);
      expect(lines[0]).toContain(`pid ${holder.pid}`);
      expect(lines[0]).toContain(hostname());
      expect(lines[0]).not.toMatch(/^\s+at /m);
      // The holder serves and runs workflows.
      const uuids = await startWorkflows(holder, 'steps', 3, [1, 10]);
      expect(await allEnded(app, uuids, 10_000)).toBe(true);
      console.log(`[executors] same OPERON_EXECUTOR_ID, round ${round}: pid ${holder.pid} serves; pid ${loser.pid} refused: ${lines[0]}`);
      holder.signal('SIGTERM');
      await holder.server.exited;
    }, 60_000);
  }
});
