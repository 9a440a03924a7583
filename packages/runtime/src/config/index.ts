export { loadConfig, resolveConfig, getConfigValue, type LoadConfigOptions, type ConfigOverrides } from './load-config.js';
export { OperonConfigError, type ConfigIssue } from './config-error.js';
export { CONFIG_SCHEMA } from './config-schema.js';
export {
  LOG_LEVELS,
  type LogLevel,
  type OperonConfig,
  type OperonConfigInput,
  type DatabaseConfigInput,
  type RuntimeConfigInput,
  type TelemetryConfigInput,
  type AuthenticationConfigInput,
  type JwtConfigInput,
  type ResolvedDatabaseConfig,
  type ResolvedRuntimeConfig,
  type ResolvedTelemetryConfig,
  type ResolvedAuthenticationConfig,
  type ResolvedJwtConfig,
  type ManagementConfigInput,
  type ResolvedManagementConfig,
} from './config-types.js';
