/**
 * The feature modules every control plane runs (`msp up`, `msp server`). Each module registers its kinds
 * of operation, its API routes and its schedules; add one line per module.
 */
import type { FeatureModule } from './server.js';
import { createAlertsModule } from './alerts/index.js';
import { createBackupsModule } from './backups/index.js';
import { createRolloutsModule } from './rollouts/index.js';
import { createAuditModule } from './audit/index.js';
import { createAccessModule } from './access/index.js';
import { createDashboardModule } from './dashboard/index.js';
import { createInstancesModule } from './instances/index.js';

export function defaultModules(): FeatureModule[] {
  // audit first: its middleware records every call, refused ones included, before access checks roles.
  return [
    createAuditModule(),
    createAccessModule(),
    createRolloutsModule(),
    createBackupsModule(),
    createInstancesModule(),
    createAlertsModule(),
    createDashboardModule(),
  ];
}
