/**
 * Workflows whose UUIDs the client picks to look like the ones the runtime derives: a parent `X`
 * starts a child (whose UUID the runtime derives from `X`), and its request starts a second
 * workflow (whose UUID the runtime derives from the request's `X`); the harness also starts, as
 * a client, workflows at `X-0`, `X.1` and the like, before and after `X`. Each workflow returns
 * the tag it was started with and the UUID it ran as, so the harness can tell whether a client's
 * workflow was adopted as a parent's child, or a request was handed another workflow's result.
 */
import { Authentication, PostApi, Workflow, type HandlerContext, type WorkflowContext } from '@operon/sdk';
import { callerFromHeader } from './caller.js';
import type { ParentResult, TaggedResult } from './identity-results.js';

const TAG_BODY_SCHEMA = {
  type: 'object',
  required: ['tag'],
  additionalProperties: false,
  properties: { tag: { type: 'string', minLength: 1, maxLength: 200 } },
};

@Authentication(callerFromHeader)
export class ChaosIdentity {
  @Workflow()
  static async child(ctx: WorkflowContext, tag: string): Promise<TaggedResult> {
    return { fn: 'child', tag, ranAs: ctx.workflowUUID };
  }

  @Workflow()
  static async solo(ctx: WorkflowContext, tag: string): Promise<TaggedResult> {
    return { fn: 'solo', tag, ranAs: ctx.workflowUUID };
  }

  @Workflow()
  static async parent(ctx: WorkflowContext, tag: string): Promise<Omit<ParentResult, 'second'>> {
    const child = await ctx.invokeChildWorkflow(ChaosIdentity).child(`${tag}/child`);
    return { tag, ranAs: ctx.workflowUUID, child };
  }

  /** Two workflows from one request: the parent under the request's UUID, then a second one. */
  @PostApi('/identity/parent', { schema: { body: TAG_BODY_SCHEMA } })
  static async postParent(ctx: HandlerContext, tag: string): Promise<ParentResult> {
    const parent = await (await ctx.invoke(ChaosIdentity).parent(tag)).getResult();
    const second = await (await ctx.invoke(ChaosIdentity).solo(`${tag}/second`)).getResult();
    return { ...parent, second };
  }

  @PostApi('/identity/child', { schema: { body: TAG_BODY_SCHEMA } })
  static async postChild(ctx: HandlerContext, tag: string): Promise<TaggedResult> {
    return (await ctx.invoke(ChaosIdentity).child(tag)).getResult();
  }

  @PostApi('/identity/solo', { schema: { body: TAG_BODY_SCHEMA } })
  static async postSolo(ctx: HandlerContext, tag: string): Promise<TaggedResult> {
    return (await ctx.invoke(ChaosIdentity).solo(tag)).getResult();
  }
}
