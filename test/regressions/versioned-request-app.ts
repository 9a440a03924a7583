/** The app of versioned-recovery-keeps-request.test.ts: a workflow that returns the request it sees. */
import { PostApi, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';

export class Echo {
  @Workflow()
  static async place(ctx: WorkflowContext): Promise<object> {
    await ctx.recv('go', 30);
    return { request: ctx.request };
  }

  @PostApi('/echo')
  static async order(ctx: HandlerContext): Promise<string> {
    return (await ctx.invoke(Echo).place()).getWorkflowUUID();
  }
}
