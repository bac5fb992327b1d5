/**
 * Retention: what to delete, and why, given the backups and the time. The clock is an argument.
 *
 * Rules (shared/DESIGN.md "Backups and recovery"):
 * - the last good base backup is never deleted, whatever its age or kind;
 * - the 7-day recovery window is kept: the newest good base backup consistent before the window opens
 *   (the window's anchor) and everything newer, with the WAL from the anchor's start onward;
 * - scheduled base backups: at most the 90 newest are kept; older ones keep only the WAL they need to be
 *   consistent, not the WAL in between (point-in-time recovery reaches back 7 days, not 90);
 * - on-demand and pre-upgrade backups are kept until deleted;
 * - volume snapshots are kept 90 days (scheduled ones), and the newest good one of each volume always;
 * - failed backups are deleted once they are older than the window (they never held usable data);
 * - a base backup an incremental kept backup reads from (`references`) is kept as long as that one is.
 */
import { lastGoodOf } from './last-good.js';
import { isGood, parseWalSegment, type BackupRecord } from './model.js';

export interface RetentionPolicy {
  recoveryWindowDays: number;
  maxScheduledBaseBackups: number;
  volumeSnapshotDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  recoveryWindowDays: 7,
  maxScheduledBaseBackups: 90,
  volumeSnapshotDays: 90,
};

export interface RetentionDecision {
  readonly id: string;
  readonly reason: string;
}

export interface RetentionPlan {
  readonly delete: readonly RetentionDecision[];
  readonly keep: readonly RetentionDecision[];
  /**
   * Archived WAL to keep: every segment numbered from `keepFrom` on (undefined: keep all), plus each range
   * [start, stop] a kept older base backup needs. Other segments may be deleted.
   */
  readonly wal: { readonly keepFrom?: string; readonly keepRanges: readonly (readonly [string, string])[] };
}

const DAY = 24 * 3600 * 1000;

export function planRetention(
  backups: readonly BackupRecord[],
  now: Date,
  policy: RetentionPolicy = DEFAULT_RETENTION,
): RetentionPlan {
  const del: RetentionDecision[] = [];
  const keep: RetentionDecision[] = [];
  const windowStart = now.getTime() - policy.recoveryWindowDays * DAY;
  const finished = (b: BackupRecord) => Date.parse(b.finishedAt ?? b.startedAt);
  const newestFirst = (a: BackupRecord, b: BackupRecord) => finished(b) - finished(a);

  // ---- base backups
  const base = backups.filter((b) => b.type === 'base').sort(newestFirst);
  const goodBase = base.filter(isGood);
  const lastGood = base[0] && lastGoodOf(base, base[0]);
  const anchor = goodBase.find((b) => finished(b) <= windowStart) ?? goodBase[goodBase.length - 1];
  const scheduledGood = goodBase.filter((b) => b.kind === 'scheduled');
  const keptRanges: (readonly [string, string])[] = [];
  for (const b of base) {
    const age = `${((now.getTime() - finished(b)) / DAY).toFixed(1)} days old`;
    if (b.status === 'running') {
      keep.push({ id: b.id, reason: 'still running' });
      continue;
    }
    if (!isGood(b)) {
      if (finished(b) < windowStart) {
        del.push({
          id: b.id,
          reason: `${b.status === 'failed' ? 'failed' : 'failed verification'}, ${age}: never usable for a restore`,
        });
      } else {
        keep.push({
          id: b.id,
          reason: `not good (${b.status}), kept for diagnosis until the window passes it`,
        });
      }
      continue;
    }
    if (b === lastGood) {
      keep.push({ id: b.id, reason: 'the last good base backup is never deleted' });
      continue;
    }
    if (anchor && finished(b) >= finished(anchor)) {
      keep.push({
        id: b.id,
        reason:
          b === anchor
            ? `anchors the ${policy.recoveryWindowDays}-day recovery window`
            : `inside the ${policy.recoveryWindowDays}-day recovery window`,
      });
      continue;
    }
    if (b.kind !== 'scheduled') {
      keep.push({ id: b.id, reason: `${b.kind} backups are kept until deleted` });
      if (b.startWal && b.stopWal) keptRanges.push([b.startWal, b.stopWal]);
      continue;
    }
    const rank = scheduledGood.indexOf(b);
    if (rank >= policy.maxScheduledBaseBackups) {
      del.push({
        id: b.id,
        reason: `older than the ${policy.maxScheduledBaseBackups} newest scheduled base backups (number ${rank + 1}), ${age}`,
      });
      continue;
    }
    keep.push({
      id: b.id,
      reason: `one of the ${policy.maxScheduledBaseBackups} newest scheduled base backups (number ${rank + 1})`,
    });
    if (b.startWal && b.stopWal) keptRanges.push([b.startWal, b.stopWal]);
  }

  // ---- chains: whatever a kept incremental reads from stays (references name every pack it uses)
  const byId = new Map(base.map((b) => [b.id, b]));
  for (let i = 0; i < keep.length; i++) {
    const b = byId.get(keep[i]!.id);
    for (const ref of b?.references ?? []) {
      const at = del.findIndex((d) => d.id === ref);
      if (at < 0) continue;
      del.splice(at, 1);
      keep.push({ id: ref, reason: `incremental backup ${b!.id} reads from it (its chain)` });
      const r = byId.get(ref);
      if (r?.startWal && r.stopWal) keptRanges.push([r.startWal, r.stopWal]);
    }
  }

  // ---- volume snapshots
  const volumeStart = now.getTime() - policy.volumeSnapshotDays * DAY;
  const snapshots = backups.filter((b) => b.type === 'volume').sort(newestFirst);
  for (const s of snapshots) {
    const age = `${((now.getTime() - finished(s)) / DAY).toFixed(1)} days old`;
    if (s.status === 'running') keep.push({ id: s.id, reason: 'still running' });
    else if (!isGood(s)) {
      if (finished(s) < windowStart) del.push({ id: s.id, reason: `failed snapshot, ${age}: never usable` });
      else keep.push({ id: s.id, reason: 'failed, kept for diagnosis until the window passes it' });
    } else if (lastGoodOf(snapshots, s) === s) {
      keep.push({ id: s.id, reason: `the last good snapshot of volume ${s.volume ?? '?'} is never deleted` });
    } else if (s.kind !== 'scheduled') {
      keep.push({ id: s.id, reason: `${s.kind} snapshots are kept until deleted` });
    } else if (finished(s) < volumeStart) {
      del.push({ id: s.id, reason: `older than ${policy.volumeSnapshotDays} days (${age})` });
    } else {
      keep.push({ id: s.id, reason: `within ${policy.volumeSnapshotDays} days` });
    }
  }

  // WAL: from the anchor on; before it only the ranges kept backups need. No good backup: keep all.
  const anchorStart = anchor?.startWal;
  return {
    delete: del,
    keep,
    wal: { ...(anchorStart ? { keepFrom: anchorStart } : {}), keepRanges: keptRanges },
  };
}

/** Whether retention may delete an archived WAL segment (history files are always kept). */
export function walDeletable(segment: string, plan: RetentionPlan, segmentSize = 16 * 1024 * 1024): boolean {
  if (!plan.wal.keepFrom) return false;
  let segno: bigint;
  try {
    segno = parseWalSegment(segment, segmentSize).segno;
  } catch {
    return false;
  }
  if (segno >= parseWalSegment(plan.wal.keepFrom, segmentSize).segno) return false;
  return !plan.wal.keepRanges.some(([a, b]) => {
    return segno >= parseWalSegment(a, segmentSize).segno && segno <= parseWalSegment(b, segmentSize).segno;
  });
}
