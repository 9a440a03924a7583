import type { WorkflowContextImpl } from './workflow-context.js';
import { OperonUnsupportedError } from './workflow-context.js';

/** Messages, events and durable sleep. */
export class WorkflowMessaging {
  sendFromWorkflow(_ctx: WorkflowContextImpl, _destinationUUID: string, _message: unknown, _topic?: string): Promise<void> {
    return Promise.reject(new OperonUnsupportedError('send is not available in this version'));
  }
  recv<M>(_ctx: WorkflowContextImpl, _topic: string | undefined, _timeoutSeconds: number): Promise<M | null> {
    return Promise.reject(new OperonUnsupportedError('recv is not available in this version'));
  }
  setEvent(_ctx: WorkflowContextImpl, _key: string, _value: unknown): Promise<void> {
    return Promise.reject(new OperonUnsupportedError('setEvent is not available in this version'));
  }
  getEventFromWorkflow<V>(_ctx: WorkflowContextImpl, _uuid: string, _key: string, _timeoutSeconds: number): Promise<V | null> {
    return Promise.reject(new OperonUnsupportedError('getEvent is not available in this version'));
  }
  sleep(_ctx: WorkflowContextImpl, _seconds: number): Promise<void> {
    return Promise.reject(new OperonUnsupportedError('sleep is not available in this version'));
  }
  stop(): void {}
}
