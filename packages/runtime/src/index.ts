export { OperonRuntime, type RuntimeOptions, type RuntimeState } from './runtime.js';
export * from './config/index.js';
export { createLogger } from './logging.js';
export { startEmbeddedPostgres, OperonEmbeddedPostgresError, type EmbeddedPostgres } from './database/embedded-postgres.js';
export { OperonSchemaTooNewError } from './system-db/schema-migrator.js';
export { WorkflowExecutor, type StartOptions } from './executor/workflow-executor.js';
export { FunctionRegistry, type RegisteredFunction } from './executor/function-registry.js';
