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
export { eventually, requestVia, createFixtureRepo } from './testing/fixture-repo.js';
export { generateSecret } from './secrets.js';
export { createLocalRuntime, hostnamesOf, type LocalRuntimeOptions } from './targets/local.js';
export type {
  RuntimeTarget,
  DeploymentRuntimeStatus,
  LocalResources,
  LocalPaths,
  TemporaryDbAccess,
} from './runtime-port.js';
export { dataDirOf, slugOf, type DataDir } from './data-dir.js';
export type { DeploymentSpec } from './reconciler.js';
export { defaultModules } from './modules.js';
