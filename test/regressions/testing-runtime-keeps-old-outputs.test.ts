/**
 * Regression: the testing runtime dropped the system database at each start but kept
 * `operon.transaction_outputs` in the app database. A second test run that used the UUID `test-1`
 * again met the first run's record at its transaction's operation id: its own INSERT was rolled
 * back and it returned the first run's output. Every testing runtime starts from clean records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transaction, Workflow, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createTestingRuntime, type TestingRuntime } from '@operon/runtime';
import { writeAppDir, type AppDir } from '../helpers/app-dir.js';

class Notes {
  @Transaction()
  static async addNote(ctx: TransactionContext, text: string): Promise<string> {
    const { rows } = await ctx.client.query<{ text: string }>('INSERT INTO notes (text) VALUES ($1) RETURNING text', [text]);
    return `added ${rows[0]!.text}`;
  }

  @Workflow()
  static async note(ctx: WorkflowContext, text: string): Promise<string> {
    return ctx.invoke(Notes).addNote(text);
  }
}

let app: AppDir;
let testRuntime: TestingRuntime | undefined;

beforeAll(() => {
  app = writeAppDir('testrerun', { migrations: { '001_notes.sql': 'CREATE TABLE notes (id SERIAL PRIMARY KEY, text TEXT NOT NULL);' } });
});

afterAll(async () => {
  await testRuntime?.destroy();
  app?.remove();
});

describe('the testing runtime run twice on the same config', () => {
  it('runs the second run’s transaction under the same UUID, and returns its own output', async () => {
    testRuntime = await createTestingRuntime([Notes], app.configPath);
    expect(await (await testRuntime.invoke(Notes, 'test-1').note('first run')).getResult()).toBe('added first run');
    expect(await (await testRuntime.invoke(Notes, 'test-2').note('direct, first run')).getResult()).toBe('added direct, first run');
    await testRuntime.destroy();

    testRuntime = await createTestingRuntime([Notes], app.configPath);
    expect(await (await testRuntime.invoke(Notes, 'test-1').note('second run')).getResult()).toBe('added second run');
    // A transaction invoked directly (a one-operation workflow) under a reused UUID, too.
    expect(await testRuntime.invoke(Notes, 'test-2').addNote('direct, second run')).toBe('added direct, second run');
    const notes = await testRuntime.queryUserDB<{ text: string }>('SELECT text FROM notes ORDER BY id');
    expect(notes.map((n) => n.text)).toContain('second run');
    expect(notes.map((n) => n.text)).toContain('direct, second run');
  });
});
