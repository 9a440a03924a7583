/**
 * Values of every type the runtime takes, as workflow inputs: the JSON the client sent (nested
 * arbitrarily), and what a handler commonly adds to it: a Date, a Map and a Set, `undefined` in
 * an object and in an array, NaN, ±Infinity, -0 and a RegExp, and an argument left `undefined`
 * so that its parameter default applies. The workflow describes what it sees, records that description (a transaction, so a
 * re-run reads the first run's), may wait for a release message (the harness kills the server
 * during that wait), and describes its inputs again: a first run and a recovered run must see
 * the same inputs.
 */
import {
  Authentication,
  PostApi,
  Transaction,
  Workflow,
  type HandlerContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';
import { callerFromHeader } from './caller.js';
import { describeValue } from './value-description.js';
import { RELEASE_TOPIC, type ValueReport } from './value-report.js';

const VALUE_BODY_SCHEMA = {
  type: 'object',
  required: ['valueId', 'value', 'at', 'holdSeconds'],
  additionalProperties: false,
  properties: {
    valueId: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._:-]+$' },
    value: {},
    at: { type: 'string', minLength: 1, maxLength: 40 },
    holdSeconds: { type: 'number', minimum: 0, maximum: 300 },
  },
};

interface Extras {
  readonly when: Date;
  readonly map: Map<string, unknown>;
  readonly set: Set<unknown>;
  readonly object: { readonly value: unknown; readonly missing: undefined };
  readonly list: readonly unknown[];
  /** Numbers JSON has no text for, and objects it flattens. */
  readonly special: readonly unknown[];
}

@Authentication(callerFromHeader)
export class ChaosValues {
  @Transaction()
  static async noteFirstView(ctx: TransactionContext, valueId: string, seen: string): Promise<{ seen: string; pid: number }> {
    await ctx.client.query('INSERT INTO chaos_value_views (value_id, seen, workflow_uuid) VALUES ($1, $2, $3)', [valueId, seen, ctx.workflowUUID]);
    return { seen, pid: process.pid };
  }

  @Workflow()
  static async inspect(
    ctx: WorkflowContext,
    valueId: string,
    value: unknown,
    extras: Extras,
    holdSeconds: number,
    defaulted: string = 'the parameter default',
  ): Promise<ValueReport> {
    const describeInputs = () => describeValue([valueId, value, extras, holdSeconds, defaulted]);
    const first = await ctx.invoke(ChaosValues).noteFirstView(valueId, describeInputs());
    if (holdSeconds > 0) await ctx.recv(RELEASE_TOPIC, holdSeconds);
    return {
      valueId,
      echo: value,
      firstSeen: first.seen,
      seenNow: describeInputs(),
      valueSeen: describeValue(value),
      firstPid: first.pid,
      // Outside any operation on purpose: the process this run is in, not a recorded one.
      finalPid: process.pid,
    };
  }

  @PostApi('/values', { schema: { body: VALUE_BODY_SCHEMA } })
  static async postValue(ctx: HandlerContext, valueId: string, value: unknown, at: string, holdSeconds: number): Promise<ValueReport> {
    const extras: Extras = {
      when: new Date(at),
      map: new Map([['value', value]]),
      set: new Set(['a', 1, valueId]),
      object: { value, missing: undefined },
      list: [undefined, value, null],
      special: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, /chaos/gi, [new Date(0)]],
    };
    const handle = await ctx.invoke(ChaosValues).inspect(valueId, value, extras, holdSeconds, undefined);
    return handle.getResult();
  }
}
