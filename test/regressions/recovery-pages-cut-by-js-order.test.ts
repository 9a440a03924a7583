/**
 * Regression: recovery pages through PENDING workflows with keyset paging in SQL
 * (`workflow_uuid > $after ORDER BY workflow_uuid LIMIT 500`, the database's collation) but takes
 * the cursor for the next page from a JavaScript sort (UTF-16 code units; workflow-status.ts
 * claimRecoveryPage). On a database whose collation is not C (en_US, ICU: the common production
 * setting) the two orders differ, the cursor lands inside the page, and the next page claims the
 * same workflows again: each claim is one more recovery attempt, so one restart counts 2 against
 * hundreds of workflows, and they reach RETRIES_EXCEEDED in half the crashes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workflow, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { writeAppDir, type AppDir } from '../helpers/app-dir.js';
import { connectTo } from '../helpers/test-databases.js';
import { testDatabaseName } from '../../packages/runtime/src/testing/test-databases.js';

class Waiter {
  @Workflow()
  static async wait(ctx: WorkflowContext): Promise<unknown> {
    return ctx.recv('never', 120);
  }
}

let app: AppDir;
let first: TestingRuntime | undefined;
let second: TestingRuntime | undefined;

beforeAll(async () => {
  app = writeAppDir('collate', { logLevel: 'fatal' });
  // The system database as a production server often has it: an en-US collation (made under the
  // testing runtime's name for it, and kept since the runtimes below do not start fresh).
  const admin = await connectTo('postgres');
  try {
    const name = testDatabaseName(app.config.database.system_database);
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`);
    // Marked as the testing runtime marks its copies, so that it uses this one.
    await admin.query(`COMMENT ON DATABASE "${name}" IS 'operon testing runtime copy'`);
  } finally {
    await admin.end();
  }
});

afterAll(async () => {
  await first?.runtime.destroy({ timeoutMs: 100 }).catch(() => undefined);
  await first?.destroy().catch(() => undefined);
  await second?.runtime.destroy({ timeoutMs: 100 }).catch(() => undefined);
  await second?.destroy();
  app?.remove();
});

describe('recovering more than one page of PENDING workflows on an en-US database', () => {
  it('claims each workflow once, and resumes every one', async () => {
    first = await createTestingRuntime([Waiter], app.configPath, { dropSystemDB: false });
    // 'a-first' sorts first in en-US but last in UTF-16 order (lowercase after uppercase).
    const uuids = ['a-first', ...Array.from({ length: 600 }, (_, i) => `B-${String(i).padStart(4, '0')}`)];
    for (const uuid of uuids) await first.invoke(Waiter, uuid).wait();
    // A graceful stop: every one is interrupted, its attempts forgotten.
    await first.runtime.destroy({ timeoutMs: 100 });
    await first.destroy();
    first = undefined;

    second = await createTestingRuntime([Waiter], app.configPath, { dropSystemDB: false });
    // Every one taken over by the new instance, none left behind or skipped by the page cursor.
    const { rows } = await second.runtime.systemDb.systemPool.query<{ owned: boolean; count: number }>(
      'SELECT owner = $1 AS owned, count(*)::int AS count FROM operon.workflow_status GROUP BY 1 ORDER BY 1',
      [second.runtime.executor.lease.instanceId],
    );
    expect(rows).toEqual([{ owned: true, count: 601 }]);
  });
});
