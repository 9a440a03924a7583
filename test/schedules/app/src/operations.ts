/**
 * The app the schedule fleet tests serve from several `operon start` processes: one workflow a
 * second, whose one communicator takes most of the second, so a kill often lands on a run in
 * flight. Its output says which process finished it and whether it was given Dates.
 */
import { Communicator, Scheduled, Workflow, type CommunicatorContext, type WorkflowContext } from '@operon/sdk';

export class Ticks {
  @Communicator()
  static async work(_ctx: CommunicatorContext, ms: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return process.pid;
  }

  @Scheduled({ crontab: '* * * * * *' })
  @Workflow()
  static async everySecond(ctx: WorkflowContext, scheduledTime: Date, startTime: Date): Promise<{ scheduledTime: string; dates: boolean; pid: number }> {
    const pid: number = await ctx.invoke(Ticks).work(600);
    return { scheduledTime: scheduledTime.toISOString(), dates: scheduledTime instanceof Date && startTime instanceof Date, pid };
  }
}
