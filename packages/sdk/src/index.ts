export * from './errors.js';
export * from './decorators.js';
export type * from './context.js';
export type * from './workflow-handle.js';
export {
  getClassRegistration,
  type ClassRegistration,
  type MethodRegistration,
  type OperationKind,
  type HttpMethod,
  type HttpRoute,
  type HttpRouteSchema,
  type HttpArgument,
  type HttpArgSource,
  type HttpPlugin,
  type HttpPluginRegistration,
  ARG_SOURCES,
  BUILT_PARAMETERS,
  builtParameters,
  type BuiltParameter,
  type TransactionOptions,
  type CommunicatorOptions,
  type IsolationLevel,
  ISOLATION_LEVELS,
  type ScheduleOptions,
  type CatchUpPolicy,
  CATCH_UP_POLICIES,
  type Authenticator,
  type AuthenticationRequest,
  type AuthenticationResult,
} from './registry.js';
export { WorkflowQueue, registeredQueues, queueNamed, type WorkflowQueueOptions, type QueueRateLimit, type EnqueueOptions } from './queue.js';
export { registerSerializableClass, serializableClassNamed, serializableClassName, type SerializableClass } from './serializable-classes.js';
