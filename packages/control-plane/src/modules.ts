/**
 * The feature modules every control plane runs (`msp up`, `msp server`). Each module registers its kinds
 * of operation, its API routes and its schedules; add one line per module.
 */
import type { FeatureModule } from './server.js';
import { createAlertsModule } from './alerts/index.js';
import { createBackupsModule } from './backups/index.js';
import { createRolloutsModule } from './rollouts/index.js';

export function defaultModules(): FeatureModule[] {
  return [createRolloutsModule(), createBackupsModule(), createAlertsModule()];
}
