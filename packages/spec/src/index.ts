/**
 * @msp/spec: the platform repo format. Schemas of msp.yaml, service.yaml and instance config.yaml; a loader
 * that validates a whole repo and names file:line:column for every mistake; JSON Schema export.
 */
export type { Diagnostic } from './diagnostic.js';
export { formatDiagnostic, formatPath, sortDiagnostics } from './diagnostic.js';
export type { Category } from './common.js';
export {
  isProduction,
  parseDuration,
  parseMemory,
  serviceIdProblem,
  SERVICE_ID_MAX,
  SERVICE_ID_PATTERN,
  SLUG_PATTERN,
} from './common.js';
export type {
  PlatformConfig,
  EnvironmentConfig,
  AlertingConfig,
  AlertChannelConfig,
} from './platform-schema.js';
export {
  platformConfigSchema,
  alertingSchema,
  environmentConfigSchema,
  DEFAULT_NOTIFICATION_CHANNEL,
} from './platform-schema.js';
export type {
  ServiceSpec,
  ServiceEnvironment,
  PostgreSQLSpec,
  HealthProbes,
  ResponseCodeRatio,
  CustomAlert,
  Rollout,
} from './service-schema.js';
export { serviceSpecSchema, serviceEnvironmentSchema } from './service-schema.js';
export type { InstanceConfig, InstanceFile } from './instance-schema.js';
export { instanceFileSchema } from './instance-schema.js';
export type { PlatformRepo, LoadedService, LoadResult } from './load-repo.js';
export { loadPlatformRepo, validateServiceText, defaultInstanceDomain } from './load-repo.js';
export type { Deployment } from './deployments.js';
export { deploymentsOf } from './deployments.js';
export type { SchemaKind } from './json-schema.js';
export { jsonSchemaFor, SCHEMA_KINDS } from './json-schema.js';
export { levenshtein, closest } from './did-you-mean.js';
export type { ScaffoldOptions } from './scaffold.js';
export { scaffoldService } from './scaffold.js';
