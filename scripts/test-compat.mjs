// The suite's core, messaging and crash tests again, on what users deploy besides the bundled
// Postgres 17: behind a transaction-mode PgBouncer, and on the oldest and newest supported majors.
// `pnpm test` runs it after the full suite; `node scripts/test-compat.mjs pgbouncer` runs one leg,
// `node scripts/test-compat.mjs pgbouncer test/system-schema.test.ts` one file of it.
import { spawnSync } from 'node:child_process';

// Each leg is a real server start plus these files: the workflow core, every messaging path, and
// the SIGKILL crash test of messaging (the suite's longer crash tests run once, on 17).
const CORE = [
  'test/executor.test.ts',
  'test/messaging/send-recv.test.ts',
  'test/messaging/events-sleep.test.ts',
  'test/messaging/crash.test.ts',
  'test/system-schema.test.ts',
];
const LEGS = {
  // Behind a pooler, also what differs there: an ORM's statements on the transaction's client, and
  // the testing runtime's copies of its template databases (which the pooler's sessions kept open),
  // and the testing runtime's reset (its drain and rewind) on pooled sessions.
  pgbouncer: { env: { OPERON_TEST_POOLER: 'pgbouncer' }, files: [...CORE, 'test/orms/transaction-clients.test.ts', 'test/testing-runtime/reset.test.ts'] },
  pg14: { env: { OPERON_TEST_PG_MAJOR: '14' }, files: CORE },
  pg18: { env: { OPERON_TEST_PG_MAJOR: '18' }, files: CORE },
};

// Arguments: leg names (default: all), and optionally test files, which limit each leg to those of its files.
const args = process.argv.slice(2);
const wanted = args.filter((arg) => !arg.includes('/') && !arg.endsWith('.ts'));
const only = args.filter((arg) => !wanted.includes(arg));
for (const name of wanted) if (!(name in LEGS)) throw new Error(`unknown leg ${name}: one of ${Object.keys(LEGS).join(', ')}`);
const legs = Object.fromEntries(Object.entries(LEGS).filter(([name]) => wanted.length === 0 || wanted.includes(name)));
const files = [...new Set(Object.values(legs).flatMap((leg) => leg.files))];
for (const file of only) if (!files.includes(file)) throw new Error(`${file} is in none of the legs ${Object.keys(legs).join(', ')}: one of ${files.join(', ')}`);
// One run, a vitest project per leg (vitest.config.ts), each with its own Postgres and files: the
// workers go on to the next leg's files without a start and end of vitest and a wait for a leg's last file.
console.log(`\n== core, messaging and crash tests: ${Object.keys(legs).join(', ')} ==`);
const started = Date.now();
const run = spawnSync('npx', ['vitest', 'run', ...only], { stdio: 'inherit', env: { ...process.env, OPERON_TEST_LEGS: JSON.stringify(legs) } });
console.log(`== ${Object.keys(legs).join(', ')}: ${run.status === 0 ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - started) / 1000)} s ==`);
process.exit(run.status ?? 1);
