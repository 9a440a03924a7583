/**
 * A second workflow function, with no route schema: the handler checks its argument itself. The
 * fuzzer sends it another workflow's `operon-workflowuuid`, which must be refused (409), never
 * answered with that workflow's result.
 */
import { Authentication, OperonResponseError, PostApi, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';
import { callerFromHeader } from './caller.js';

@Authentication(callerFromHeader)
export class ChaosEcho {
  @Workflow()
  static async echo(ctx: WorkflowContext, text: string): Promise<{ text: string; user: string }> {
    return { text, user: ctx.authenticatedUser };
  }

  @PostApi('/echo')
  static async postEcho(ctx: HandlerContext, text: unknown): Promise<{ text: string; user: string }> {
    if (typeof text !== 'string' || text.length > 10_000) {
      throw new OperonResponseError('text must be a string of at most 10000 characters', 400);
    }
    const handle = await ctx.invoke(ChaosEcho).echo(text);
    return handle.getResult();
  }
}
