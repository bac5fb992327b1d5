export {
  startControlPlane,
  type ControlPlane,
  type ControlPlaneOptions,
  type FeatureContext,
  type FeatureModule,
} from './server.js';
export { apiRouter, type ApiEnv, type ApiRoutes } from './api/app.js';
export type { ControlPlaneApi } from './api/contract.js';
export {
  ensureQueue,
  type OperationEngine,
  type OperationHandler,
  type StepContext,
} from './operations/engine.js';
export type { StateStore, DeploymentRow, TargetRelease } from './state/store.js';
export type { Db, DbResult } from './state/db.js';
export { migrationsBeside, type MigrationSet } from './state/migrate.js';
export { generateSecret } from './secrets.js';
export {
  createLocalRuntime,
  hostnamesOf,
  type LocalRuntime,
  type LocalRuntimeOptions,
  type LocalPaths,
} from './targets/local/index.js';
export type {
  RuntimeTarget,
  DeploymentRuntimeStatus,
  TemporaryDbAccess,
  TargetSteps,
  Workloads,
  Databases,
  Volumes,
} from './runtime-port.js';
export type { RuntimeTargets, TargetFactory, TargetDeps } from './targets/registry.js';
export {
  createKubernetesTarget,
  kubeconfigOf,
  NOT_OBSERVED,
  type KubernetesTargetOptions,
} from './targets/kubernetes/index.js';
export { createGcpTarget } from './targets/gcp/index.js';
export { dataDirOf, slugOf, type DataDir } from './data-dir.js';
export type { DeploymentSpec } from '@msp/core';
export { defaultModules } from './modules.js';
export { createAccessModule, type AccessModuleOptions } from './access/index.js';
export { createAuditModule, createAuditLog, type AuditLog, type AuditRecord } from './audit/index.js';
export type { ApiHooks, Principal } from './api/app.js';
export type { EngineHooks } from './operations/engine.js';
