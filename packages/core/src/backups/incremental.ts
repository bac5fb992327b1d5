/**
 * Which scheduled base backup is incremental: a full one when the newest good full backup is a week old
 * (or there is none), otherwise an incremental on top of the newest good base backup. Pure.
 */
import { isGood, type BackupRecord } from './model.js';

/** Scheduled backups: a full one every this many days, incrementals in between. */
export const FULL_BACKUP_EVERY_DAYS = 7;

/** The id of the base backup the next scheduled one builds on; undefined: take a full one. */
export function incrementalParentOf(
  backups: readonly BackupRecord[],
  now: Date,
  fullEveryDays = FULL_BACKUP_EVERY_DAYS,
): string | undefined {
  const finished = (b: BackupRecord) => Date.parse(b.finishedAt ?? b.startedAt);
  const good = backups
    .filter((b) => b.type === 'base' && isGood(b))
    .sort((a, b) => finished(b) - finished(a));
  const lastFull = good.find((b) => (b.references ?? []).length === 0);
  if (!lastFull) return undefined;
  // Half a day of slack: a daily schedule that runs a little early still makes the 7th day a full one.
  if (now.getTime() - finished(lastFull) >= (fullEveryDays - 0.5) * 24 * 3600 * 1000) return undefined;
  return good[0]!.id;
}
