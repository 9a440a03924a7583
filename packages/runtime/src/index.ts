export { OperonRuntime, type RuntimeOptions, type RuntimeState } from './runtime.js';
export * from './config/index.js';
export { createLogger, logDestination, prettyLogs } from './logging.js';
export { startEmbeddedPostgres, embeddedPostgresRunning, passwordFileOf, OperonEmbeddedPostgresError, type EmbeddedPostgres } from './database/embedded-postgres.js';
export { OperonSchemaTooNewError } from './system-db/schema-migrator.js';
export { WorkflowExecutor, type StartOptions } from './executor/workflow-executor.js';
export { FunctionRegistry, type RegisteredFunction } from './executor/function-registry.js';
export { createHttpServer, HEALTH_PATH, type HttpServerOptions } from './http/http-server.js';
export { OperonHttpRouteError, OperonHttpPluginError, OperonHttpMissingArgumentError, OperonHttpInvalidArgumentError, OperonHttpMalformedJsonError } from './http/http-errors.js';
export { applyAppMigrations, OperonAppMigrationError } from './app-migrations.js';
export { createTestingRuntime, type TestingRuntime, type TestingRuntimeOptions, type TestCaller } from './testing-runtime.js';
export type { RunUntilIdleOptions } from './testing/virtual-time.js';
export { OperonTestingUsageError, OperonTestingCrashedError, OperonTestingFromWorkflowError } from './testing/testing-errors.js';
export type { Duration } from './testing/durations.js';
export { OperonMessagingArgumentError } from './executor/messaging-arguments.js';
export { replayWorkflow, type ReplayReport, type ReplayedOperation, type DivergenceKind, type Divergence } from './debug/workflow-replay.js';
export { checkOpenWorkflows, checkMove, checkedMoveOf, checkedVersionOf, forkMoveOf, resolveVersion, OperonVersionCheckDivergedError, type CheckReport, type CheckedDivergence } from './versions/version-check.js';
export { jwtAuthenticator, type JwtAuthenticatorOptions } from './auth/jwt-authenticator.js';
export { OperonJwtNotConfiguredError, OperonAuthenticatorResultError } from './auth/auth-errors.js';
export { executorView, type ExecutorView } from './management/executors-view.js';
export { queueView, type QueueView } from './management/queues-view.js';
export { versionView, type VersionView } from './management/versions-view.js';
export type { ExecutorRow, QueueSummary } from './system-db/system-database.js';
export { OperonExecutorIdTakenError } from './executor/executor-lease.js';
export {
  managementAccess,
  OperonManagementCrossOriginError,
  managementRoute,
  ManagementAccess,
  VIEWER_ROLE,
  ADMIN_ROLE,
  TOKEN_COOKIE,
  type ManagementCaller,
  type ManagementAccessLevel,
  type ManagementRouteOptions,
  type ManagementHandler,
} from './management/management-access.js';
export { parseFilter, OperonManagementRequestError, WORKFLOW_STATUSES, type WorkflowFilter } from './management/workflow-filter.js';
export { workflowPage, workflowDetail, workflowSteps, type WorkflowPage } from './management/workflow-reads.js';
export type { WorkflowSummaryView, WorkflowDetailView, StepView, WaitingOn } from './management/workflow-views.js';
export { pageSize, listQuery } from './management/workflow-queries.js';
export { SYSTEM_MIGRATIONS } from './system-db/migrations.generated.js';
export { scheduleViews, type ScheduleView } from './management/schedules-view.js';
export { backfillSchedule, backfillTicks, MAX_BACKFILL_TICKS, type BackfillResult } from './schedules/backfill.js';
export { MAX_CATCH_UP, type ScheduledWorkflow } from './schedules/scheduled-workflows.js';
export { LATE_MS, MAX_AHEAD_MS } from './schedules/scheduler.js';
export type { ScheduleRow } from './system-db/system-database.js';
export { runInitializers, OperonInitializerError } from './initializers.js';
export {
  cancelWorkflows,
  resumeWorkflows,
  forkWorkflow,
  parseFork,
  auditPage,
  OperonManagementConflictError,
  OperonManagementStillFinishingError,
  OperonManagementAppDatabaseError,
  OperonManagementSystemDatabaseError,
  APP_DATABASE_DEADLINE_MS,
  SYSTEM_DATABASE_DEADLINE_MS,
  RESUME_WAIT_MS,
  type ChangeResult,
  type ChangeTarget,
  type CheckedMove,
  type ForkMove,
  type ForkRequest,
  type AuditEntry,
} from './management/workflow-changes.js';
export { storedValueForDisplay, encodeValue as encodeStoredValue, decodeValue as decodeStoredValue } from './executor/value-codec.js';
export { readBundle, versionOf, bundleClasses } from './versions/bundle-version.js';
export { importFresh, isFailedVersionImport } from './versions/fresh-imports.js';
export type { StoredBundle, VersionRow } from './system-db/system-database.js';
export { openApiDocument, appInfo, OPENAPI_PATH, type OpenApiInfo } from './http/openapi-document.js';
