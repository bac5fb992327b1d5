export { startControlPlane, type ControlPlane, type ControlPlaneOptions } from './server.js';
export { createLocalRuntime, hostnamesOf, type LocalRuntimeOptions } from './targets/local.js';
export type { RuntimeTarget, DeploymentRuntimeStatus } from './runtime-port.js';
export { dataDirOf, slugOf, type DataDir } from './data-dir.js';
export type { DeploymentSpec } from './reconciler.js';
