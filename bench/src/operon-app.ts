/** The benchmark's workloads as an Operon app. Keep in step with dbos-app.ts: same steps, same SQL. */
import {
  Communicator,
  Transaction,
  Workflow,
  type CommunicatorContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';
import { INSERT_ROW, RECV_TIMEOUT_SECONDS, RELEASE_TOPIC, type StepOutput, type W3Output } from './workloads.js';
import { blockedWorkflows, noteQueuedStart } from './worker-harness.js';
import type { QueuedInput } from './protocol.js';

export class BenchOps {
  @Communicator()
  static async stepA(_ctx: CommunicatorContext, input: number): Promise<StepOutput> {
    return { step: 'A', input };
  }

  @Communicator()
  static async stepMiddle(_ctx: CommunicatorContext, input: number): Promise<StepOutput> {
    return { step: 'M', input };
  }

  @Communicator()
  static async stepB(_ctx: CommunicatorContext, input: number): Promise<StepOutput> {
    return { step: 'B', input };
  }

  @Transaction()
  static async insertRow(ctx: TransactionContext, input: number): Promise<string> {
    const { rows } = await ctx.client.query<{ id: string }>(INSERT_ROW, [input]);
    return rows[0]!.id;
  }

  @Workflow()
  static async w0(_ctx: WorkflowContext, input: number): Promise<number> {
    return input;
  }

  @Workflow()
  static async w3(ctx: WorkflowContext, input: number): Promise<W3Output> {
    const a = await ctx.invoke(BenchOps).stepA(input);
    const id = await ctx.invoke(BenchOps).insertRow(input);
    const b = await ctx.invoke(BenchOps).stepB(input);
    return [a, id, b];
  }

  @Workflow()
  static async w3s(ctx: WorkflowContext, input: number): Promise<W3Output> {
    const a = await ctx.invoke(BenchOps).stepA(input);
    const middle = await ctx.invoke(BenchOps).stepMiddle(input);
    const b = await ctx.invoke(BenchOps).stepB(input);
    return [a, middle, b];
  }

  /** The queue workload: the same body as DBOS's (dbos-app.ts). */
  @Workflow()
  static async queued(ctx: WorkflowContext, input: QueuedInput): Promise<number> {
    noteQueuedStart(input);
    await ctx.invoke(BenchOps).stepA(input.input);
    await ctx.invoke(BenchOps).stepB(input.input);
    return input.input;
  }

  /** Recovery: one recorded step, then a wait for a message that only comes after the crash. */
  @Workflow()
  static async blocked(ctx: WorkflowContext, input: number): Promise<[StepOutput, string | null]> {
    const a = await ctx.invoke(BenchOps).stepA(input);
    blockedWorkflows.count++;
    const message = await ctx.recv<string>(RELEASE_TOPIC, RECV_TIMEOUT_SECONDS);
    return [a, message];
  }
}
