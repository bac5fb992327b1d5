import type { Command } from 'commander';
import { registerSpecCommands } from './spec.js';
import { registerBackupCommands } from './backup.js';
import { registerOperationsCommands } from './operations.js';
import { registerOperationQueries, registerRuntimeCommands } from './runtime.js';
import { registerReleaseCommands } from './release.js';
import { registerDeleteCommands } from './delete.js';
import { registerUserCommands } from './users.js';
import { registerAccessCommands } from './access.js';
import { registerGenerateCommands } from './generate.js';
import { registerInstanceCommands } from './instance.js';
import { registerFleetCommands } from './fleet.js';
import { registerAlertsCommands } from './alerts.js';

/** Every command group, in the order `msp --help` lists them. Each group lives in its own module. */
export function registerCommands(program: Command): void {
  registerRuntimeCommands(program);
  registerSpecCommands(program);
  registerOperationsCommands(program);
  registerBackupCommands(program);
  registerReleaseCommands(program); // also `msp rollout …` and `msp deploy`
  registerDeleteCommands(program);
  registerUserCommands(program); // users, tokens, whoami
  registerAccessCommands(program); // access, audit
  registerGenerateCommands(program);
  registerInstanceCommands(program);
  registerFleetCommands(program);
  registerAlertsCommands(program);
  // keep last: adds list/show to the `operations` group registered above
  registerOperationQueries(program);
}
