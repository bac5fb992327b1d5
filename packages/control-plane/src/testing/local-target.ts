/** For tests: the local target of a control plane, with its cluster objects and paths. */
import { createDirectoryRepository, type BackupRepository } from '@msp/runtime-local';
import type { ControlPlane } from '../server.js';
import type { LocalRuntime } from '../targets/local/index.js';

export function localTargetOf(cp: Pick<ControlPlane, 'targets'>): LocalRuntime {
  const target = cp.targets.get('local');
  if (!target) throw new Error('this control plane has no local target');
  return target as LocalRuntime;
}

/** The deployment's backup repository on the local target. */
export function localRepositoryOf(cp: Pick<ControlPlane, 'targets'>, key: string): BackupRepository {
  return createDirectoryRepository(localTargetOf(cp).paths(key).backups);
}
