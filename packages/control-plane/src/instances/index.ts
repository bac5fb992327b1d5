export { createInstancesModule, checkTtls, INSTANCE_KINDS, type InstancesModuleOptions } from './module.js';
export { createInstanceService, type InstanceService, type InstanceView, type DryRun } from './service.js';
export { instanceRoutes } from './schemas.js';
export { fleetRoutes } from './fleet-routes.js';
export { assignRings, type Fleet, type FleetMember } from './fleet.js';
export { fleetReport } from './fleet-report.js';
export { windowState } from './windows.js';
