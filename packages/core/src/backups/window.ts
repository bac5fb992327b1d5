/**
 * The recoverable window: from the consistent point of the oldest good base backup whose WAL chain is
 * unbroken up to the newest archived segment, to the time that newest segment covers. A restore target
 * outside it is refused with the window in the message.
 */
import { InputError } from '../errors.js';
import { isGood, parseWalSegment, type BackupRecord } from './model.js';

export interface ArchivedSegment {
  /** WAL segment file name. */
  readonly name: string;
  /** The last time WAL was written into it (the segment file's mtime when it was archived). */
  readonly walEndTime: string;
}

export interface RecoverableWindow {
  /** Earliest time a restore can reach (a good base backup's consistent point). */
  readonly from: string;
  /** Latest time a restore can reach (covered by archived WAL). */
  readonly to: string;
  /** The base backup a restore to `from` starts from. */
  readonly oldestBackupId: string;
  /** Newest segment of the unbroken chain. */
  readonly newestSegment: string;
}

/**
 * Computes the window. Segments are matched by number whatever their timeline (a promoted restore
 * continues the numbering on a new timeline). A gap in the chain after a backup's start segment makes
 * that backup unusable for point-in-time recovery past the gap.
 */
export function recoverableWindow(
  backups: readonly BackupRecord[],
  segments: readonly ArchivedSegment[],
  segmentSize = 16 * 1024 * 1024,
): RecoverableWindow | undefined {
  const bySegno = new Map<bigint, ArchivedSegment>();
  for (const s of segments) {
    const { segno } = parseWalSegment(s.name, segmentSize);
    const current = bySegno.get(segno);
    if (!current || current.walEndTime < s.walEndTime) bySegno.set(segno, s);
  }
  if (bySegno.size === 0) return undefined;
  const newest = [...bySegno.keys()].reduce((a, b) => (a > b ? a : b));
  // Walk down from the newest segment while the chain is unbroken.
  let lowest = newest;
  while (bySegno.has(lowest - 1n)) lowest -= 1n;
  const newestSeg = bySegno.get(newest)!;
  const candidates = backups
    .filter((b) => b.type === 'base' && isGood(b) && b.startWal !== undefined && b.stopWal !== undefined)
    .filter((b) => {
      const start = parseWalSegment(b.startWal!, segmentSize).segno;
      const stop = parseWalSegment(b.stopWal!, segmentSize).segno;
      return start >= lowest && stop <= newest;
    })
    .sort((a, b) => a.finishedAt!.localeCompare(b.finishedAt!));
  const oldest = candidates[0];
  if (!oldest) return undefined;
  const to = newestSeg.walEndTime > oldest.finishedAt! ? newestSeg.walEndTime : oldest.finishedAt!;
  return { from: oldest.finishedAt!, to, oldestBackupId: oldest.id, newestSegment: newestSeg.name };
}

export function describeWindow(w: RecoverableWindow | undefined): string {
  return w ? `${w.from} to ${w.to}` : 'empty (no good base backup with an unbroken WAL chain)';
}

/** A restore target: a time, a named backup, or the latest state the archive holds. */
export type RestoreTarget =
  | { readonly kind: 'time'; readonly time: string }
  | { readonly kind: 'backup'; readonly backupId: string }
  | { readonly kind: 'latest' };

/** Throws InputError (exit 2) when a target time lies outside the window, naming the window. */
export function validateRestoreTarget(target: RestoreTarget, window: RecoverableWindow | undefined): void {
  if (target.kind !== 'time') {
    if (target.kind === 'latest' && !window) {
      throw new InputError(
        `Nothing to restore: the recoverable window is ${describeWindow(window)}; take a backup first (\`msp backup create\`).`,
      );
    }
    return;
  }
  const t = Date.parse(target.time);
  if (Number.isNaN(t)) {
    throw new InputError(
      `"${target.time}" is not a time; give an RFC 3339 time such as 2026-01-01T12:00:00Z.`,
    );
  }
  if (!window || t < Date.parse(window.from) || t > Date.parse(window.to)) {
    throw new InputError(
      `${new Date(t).toISOString()} is outside the recoverable window (${describeWindow(window)}); ` +
        'choose a time inside it, or restore a named backup with --backup.',
      { details: { window: window ?? null } },
    );
  }
}

/** The base backup a restore to `target` starts from: the newest good one consistent before the target. */
export function baseBackupFor(
  target: RestoreTarget,
  backups: readonly BackupRecord[],
): BackupRecord | undefined {
  const good = backups
    .filter((b) => b.type === 'base' && isGood(b))
    .sort((a, b) => b.finishedAt!.localeCompare(a.finishedAt!));
  if (target.kind === 'backup') return good.find((b) => b.id === target.backupId);
  if (target.kind === 'latest') return good[0];
  return good.find((b) => Date.parse(b.finishedAt!) <= Date.parse(target.time));
}
