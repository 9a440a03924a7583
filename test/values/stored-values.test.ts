/**
 * Values through a real runtime and its databases: workflow inputs and outputs and errors,
 * communicator outputs (system database), transaction outputs (app database), messages and events
 * come back as they were given; the workflow sees its inputs as stored, not the caller's objects;
 * rows written in the plain JSON of earlier versions (raw SQL) still read back and recover; a
 * value that cannot be stored fails its operation once, naming its path, and is never retried.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  Communicator,
  OperonNotAuthorizedError,
  OperonValueNotSerializableError,
  Transaction,
  Workflow,
  type CommunicatorContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';
import { OperonRuntime, createLogger, decodeStoredValue } from '@operon/runtime';
import { query, testConfig } from '../helpers/test-databases.js';
import { Money, PaymentDeclined, describeValue, sampleValue } from '../fixtures/value-samples.js';

/** What each workflow run was handed, as objects (not copies made by the test). */
const seenInputs: unknown[] = [];
const calls = { make: 0, inTx: 0, decline: 0, unstorable: 0 };

class Values {
  @Communicator()
  static async make(_ctx: CommunicatorContext, tag: string): Promise<Record<string, unknown>> {
    calls.make++;
    return sampleValue(tag);
  }

  @Transaction()
  static async inTx(ctx: TransactionContext, tag: string): Promise<Record<string, unknown>> {
    calls.inTx++;
    await ctx.client.query('SELECT 1');
    return sampleValue(tag);
  }

  @Communicator({ retriesAllowed: false })
  static async decline(_ctx: CommunicatorContext): Promise<never> {
    calls.decline++;
    throw new PaymentDeclined('new decline', 'acct-new');
  }

  @Communicator({ retriesAllowed: true, maxAttempts: 3, intervalSeconds: 0.01 })
  static async unstorable(_ctx: CommunicatorContext): Promise<unknown> {
    calls.unstorable++;
    return { ok: 1, later: () => 'a callback' };
  }

  @Workflow()
  static async everything(ctx: WorkflowContext, input: Record<string, unknown>, money: Money): Promise<Record<string, unknown>> {
    seenInputs.push(input, money);
    const fromCommunicator = await ctx.invoke(Values).make('communicator');
    const fromTransaction = await ctx.invoke(Values).inTx('transaction');
    await ctx.setEvent('sample', sampleValue('event'));
    await ctx.send(ctx.workflowUUID, sampleValue('message'), 'self');
    const message = await ctx.recv('self', 10);
    return { input, money, fromCommunicator, fromTransaction, message };
  }

  @Workflow()
  static async failing(_ctx: WorkflowContext): Promise<void> {
    throw sampleValue('thrown').error;
  }

  @Workflow()
  static async callsUnstorable(ctx: WorkflowContext): Promise<unknown> {
    try {
      return await ctx.invoke(Values).unstorable();
    } catch (error) {
      const e = error as OperonValueNotSerializableError;
      return { isNotSerializable: e instanceof OperonValueNotSerializableError, code: e.code, path: e.path, message: e.message };
    }
  }

  /** Reads records written in the plain JSON of earlier versions. */
  @Workflow()
  static async legacyReader(ctx: WorkflowContext, input: unknown): Promise<Record<string, unknown>> {
    seenInputs.push(input);
    const made = await ctx.invoke(Values).make('not called: replayed');
    let declined: unknown;
    try {
      await ctx.invoke(Values).decline();
    } catch (error) {
      declined = error;
    }
    const fromTransaction = await ctx.invoke(Values).inTx('not called: replayed');
    const message = await ctx.recv('old', 10);
    const event = await ctx.getEvent('legacy-done', 'k', 10);
    const e = declined as PaymentDeclined;
    return { input, made, declined: { isError: e instanceof Error, name: e.name, message: e.message, stack: e.stack, account: e.account }, fromTransaction, message, event };
  }
}

const runtimes: OperonRuntime[] = [];
async function runtime(recover = true): Promise<OperonRuntime> {
  const config = testConfig('values');
  const rt = await OperonRuntime.create({ config, classes: [Values], logger: createLogger(config.telemetry.logs.logLevel) });
  runtimes.push(rt);
  if (recover) await rt.recover();
  return rt;
}
afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.destroy({ timeoutMs: 0 })));
});

describe('stored values', () => {
  it('come back as given from inputs, outputs, communicators, transactions, messages, events and errors', async () => {
    const rt = await runtime();
    const input = sampleValue('input');
    const money = new Money(250n, 'USD');
    const handle = await rt.client.invoke(Values, { workflowUUID: 'values-all' }).everything(input, money);
    const result = await handle.getResult();
    const expected = {
      input: sampleValue('input'),
      money: new Money(250n, 'USD'),
      fromCommunicator: sampleValue('communicator'),
      fromTransaction: sampleValue('transaction'),
      message: sampleValue('message'),
    };
    expect(describeValue(result)).toBe(describeValue(expected));
    expect(result.money).toBeInstanceOf(Money);
    const given = result.input as Record<string, unknown>;
    expect((given.sharedTwice as unknown[])[0]).toBe((given.sharedTwice as unknown[])[1]);
    expect((given.circular as Record<string, unknown>).self).toBe(given.circular);
    // The workflow was handed the stored inputs, as a recovered run would be: never the caller's objects.
    expect(seenInputs[0]).not.toBe(input);
    expect(seenInputs[1]).not.toBe(money);
    expect(describeValue(seenInputs[0])).toBe(describeValue(input));
    // Read back by another reader, from the records alone.
    expect(describeValue(await rt.client.retrieveWorkflow('values-all').getResult())).toBe(describeValue(result));
    expect(describeValue(await rt.client.getEvent('values-all', 'sample', 1))).toBe(describeValue(sampleValue('event')));
    // Each kind of record holds its value in an envelope, queryable as JSON in SQL: with shared
    // references (the inputs, the output) in format 1, tags in place; without (the communicator's
    // output, the event, the message), in format 3, plain JSON with the kinds' places beside it.
    const sys = rt.config.database.system_database;
    const [row] = await query(sys, "SELECT inputs::jsonb #>> '{value,0,date,value}' AS date, output::jsonb -> '$operon' AS format FROM operon.workflow_status WHERE workflow_uuid = 'values-all'");
    expect(row).toEqual({ date: '2025-03-04T05:06:07.089Z', format: 1 });
    const flatRows = await query(
      sys,
      `SELECT output::jsonb -> '$operon' AS format, output::jsonb #>> '{value,date}' AS date, output::jsonb #>> '{types,date}' AS kind
         FROM operon.operation_outputs WHERE workflow_uuid = 'values-all' AND output IS NOT NULL AND output::jsonb ? 'types' ORDER BY function_id`,
    );
    // The communicator's output and the message as recv recorded it.
    expect(flatRows.length).toBe(2);
    for (const flat of flatRows) expect(flat).toEqual({ format: 3, date: '2025-03-04T05:06:07.089Z', kind: 'Date' });
    const [eventRow] = await query(sys, "SELECT value::jsonb -> '$operon' AS format, value::jsonb #>> '{value,big}' AS big FROM operon.workflow_events WHERE workflow_uuid = 'values-all'");
    expect(eventRow).toEqual({ format: 3, big: String(2n ** 70n) });
    const [txRow] = await query(rt.config.database.user_database, "SELECT output FROM operon.transaction_outputs WHERE workflow_uuid = 'values-all'");
    expect(describeValue(decodeStoredValue(txRow.output))).toBe(describeValue(sampleValue('transaction')));

    const failure = await (await rt.client.invoke(Values, { workflowUUID: 'values-failing' }).failing()).getResult().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PaymentDeclined);
    expect((failure as PaymentDeclined).account).toBe('acct-thrown');
    expect((failure as { retryAt?: unknown }).retryAt).toStrictEqual(new Date(86_400_000));
    expect((failure as Error).cause).toBeInstanceOf(RangeError);
    expect((failure as Error).stack).toMatch(/^PaymentDeclined: declined thrown\n\s+at sampleValue/);
  });

  it('fails an operation whose output cannot be stored once, naming its path, without retrying it; refuses such inputs before storing anything', async () => {
    const rt = await runtime();
    const outcome = await (await rt.client.invoke(Values).callsUnstorable()).getResult();
    expect(outcome).toEqual({
      isNotSerializable: true,
      code: 'OPERON_ERR_VALUE_NOT_SERIALIZABLE',
      path: 'output.later',
      message: 'the output of Values.unstorable cannot be stored: output.later is a function (later), which cannot be stored',
    });
    expect(calls.unstorable).toBe(1);
    const refused = await rt.client
      .invoke(Values, { workflowUUID: 'values-refused' })
      .everything({ ok: true, callback: () => 1 } as never, new Money(1n, 'EUR'))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OperonValueNotSerializableError);
    expect((refused as OperonValueNotSerializableError).path).toBe('inputs[0].callback');
    expect(await query(rt.config.database.system_database, "SELECT 1 FROM operon.workflow_status WHERE workflow_uuid = 'values-refused'")).toEqual([]);
  });

  it('reads and recovers records written in the plain JSON of earlier versions', async () => {
    const rt = await runtime(false);
    const sys = rt.config.database.system_database;
    const executorId = rt.executor.lease.executorId;
    const legacyStack = 'PaymentDeclined: old decline\n    at Old.code (old.js:1:1)';
    await query(
      sys,
      `INSERT INTO operon.workflow_status (workflow_uuid, status, workflow_name, executor_id, inputs, output, error, created_at, updated_at) VALUES
         ('legacy-pending', 'PENDING', 'Values.legacyReader', $1, '[{"when":"2020-01-01T00:00:00.000Z","n":1}]', NULL, NULL, 0, 0),
         ('legacy-done', 'SUCCESS', 'Values.make', $1, '["x"]', '{"at":"2020-01-01T00:00:00.000Z","list":[1,null]}', NULL, 0, 0),
         ('legacy-failed', 'ERROR', 'Values.make', $1, '["x"]', NULL,
          '{"name":"OperonNotAuthorizedError","message":"Values.make requires one of the roles [admin]; the caller holds none","fields":{"functionName":"Values.make","requiredRoles":["admin"]},"operonCode":"OPERON_ERR_AUTH_NOT_AUTHORIZED"}', 0, 0)`,
      [executorId],
    );
    await query(
      sys,
      `INSERT INTO operon.operation_outputs (workflow_uuid, function_id, function_name, output, error, created_at) VALUES
         ('legacy-pending', 0, 'Values.make', '{"tag":"old","when":"2020-01-01T00:00:00.000Z"}', NULL, 0),
         ('legacy-pending', 1, 'Values.decline', NULL, $1, 0)`,
      [JSON.stringify({ name: 'PaymentDeclined', message: 'old decline', stack: legacyStack, fields: { account: 'acct-old' } })],
    );
    await query(sys, `INSERT INTO operon.notifications (destination_uuid, topic, message, created_at) VALUES ('legacy-pending', 'old', '{"hello":["old",2]}', 0)`);
    await query(sys, `INSERT INTO operon.workflow_events (workflow_uuid, key, value, updated_at) VALUES ('legacy-done', 'k', '[1,"two",null]', 0)`);
    await query(
      rt.config.database.user_database,
      `INSERT INTO operon.transaction_outputs (workflow_uuid, function_id, function_name, output, created_at) VALUES ('legacy-pending', 2, 'Values.inTx', '"from an old transaction"', 0)`,
    );
    const before = { ...calls };
    expect(await rt.recover()).toBe(1);
    const result = await rt.client.retrieveWorkflow('legacy-pending').getResult();
    expect(result).toStrictEqual({
      input: { when: '2020-01-01T00:00:00.000Z', n: 1 },
      made: { tag: 'old', when: '2020-01-01T00:00:00.000Z' },
      declined: { isError: true, name: 'PaymentDeclined', message: 'old decline', stack: legacyStack, account: 'acct-old' },
      fromTransaction: 'from an old transaction',
      message: { hello: ['old', 2] },
      event: [1, 'two', null],
    });
    // Replayed from the old records: nothing ran again.
    expect(calls).toEqual(before);
    expect(await rt.client.retrieveWorkflow('legacy-done').getResult()).toStrictEqual({ at: '2020-01-01T00:00:00.000Z', list: [1, null] });
    const failed = await rt.client.retrieveWorkflow('legacy-failed').getResult().catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(OperonNotAuthorizedError);
    expect((failed as OperonNotAuthorizedError).requiredRoles).toEqual(['admin']);
    // A plain result is still written as plain JSON, as before.
    const [row] = await query(sys, "SELECT output FROM operon.workflow_status WHERE workflow_uuid = 'legacy-pending'");
    expect(JSON.parse(row.output)).toStrictEqual(result);
  });
});
