/** The harness's way to message a workflow from outside: a keyed send, delivered once however often it is retried. */
import { Authentication, PostApi, type HandlerContext } from '@operon/sdk';
import { callerFromHeader } from './caller.js';

const MESSAGE_BODY_SCHEMA = {
  type: 'object',
  required: ['destination', 'topic', 'message', 'key'],
  additionalProperties: false,
  properties: {
    destination: { type: 'string', minLength: 1, maxLength: 200 },
    topic: { type: 'string', minLength: 1, maxLength: 100 },
    message: {},
    key: { type: 'string', minLength: 1, maxLength: 200 },
  },
};

@Authentication(callerFromHeader)
export class ChaosMessages {
  @PostApi('/messages', { schema: { body: MESSAGE_BODY_SCHEMA } })
  static async postMessage(ctx: HandlerContext, destination: string, topic: string, message: unknown, key: string): Promise<{ sent: true }> {
    await ctx.send(destination, message, topic, key);
    return { sent: true };
  }
}
