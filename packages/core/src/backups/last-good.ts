/**
 * The rule every deletion of backups obeys, on request or by retention: a deployment always keeps a good
 * backup of each series (its base backups; the snapshots of each volume). The newest good one of a series
 * is its last good backup, and it is never deleted.
 */
import { PreconditionFailedError } from '../errors.js';
import { isGood, type BackupRecord } from './model.js';

const seriesOf = (b: Pick<BackupRecord, 'type' | 'volume'>) =>
  b.type === 'base' ? 'base' : `volume:${b.volume ?? ''}`;
const finished = (b: BackupRecord) => Date.parse(b.finishedAt ?? b.startedAt);

/** The newest good backup of `b`'s series among `backups` (b itself included when it is there). */
export function lastGoodOf<T extends BackupRecord>(backups: readonly T[], b: BackupRecord): T | undefined {
  return backups
    .filter((r) => seriesOf(r) === seriesOf(b) && isGood(r))
    .sort((x, y) => finished(y) - finished(x))[0];
}

/**
 * Refuses to delete `b` when no other good backup of its series would remain (a 412 naming the fix).
 * `backups` are all backups of the deployment.
 */
export function assertNotLastGood(
  b: BackupRecord & { deploymentKey?: string },
  backups: readonly BackupRecord[],
): void {
  if (
    !isGood(b) ||
    lastGoodOf(
      backups.filter((r) => r.id !== b.id),
      b,
    )
  )
    return;
  const what = b.type === 'base' ? 'base backup' : `snapshot of volume ${b.volume ?? ''}`;
  throw new PreconditionFailedError(
    `Backup ${b.id} is the last good ${what}${b.deploymentKey ? ` of ${b.deploymentKey}` : ''}: it is never deleted. Take a newer one first.`,
  );
}
