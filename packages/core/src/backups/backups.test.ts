import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  baseBackupFor,
  incrementalParentOf,
  parseWalSegment,
  planRetention,
  recoverableWindow,
  validateRestoreTarget,
  walDeletable,
  walSegmentName,
  type BackupRecord,
} from './index.js';

const DAY = 24 * 3600 * 1000;
const now = new Date('2026-06-01T12:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * DAY).toISOString();

/** A daily scheduled base backup `d` days ago, one WAL segment per day. */
function daily(d: number, status: BackupRecord['status'] = 'succeeded'): BackupRecord {
  const seg = walSegmentName(1, BigInt(1000 - d * 10));
  return {
    id: `b${d}`,
    type: 'base',
    kind: 'scheduled',
    status,
    startedAt: daysAgo(d),
    finishedAt: daysAgo(d),
    startWal: seg,
    stopWal: seg,
  };
}

void describe('WAL segment names', () => {
  void it('round-trips numbers across a log boundary', () => {
    assert.equal(parseWalSegment('0000000100000001000000FF').segno, 511n);
    assert.equal(walSegmentName(2, 512n), '000000020000000200000000');
    assert.throws(() => parseWalSegment('nope'), /not a WAL segment/);
  });
});

void describe('retention', () => {
  void it('keeps the 90 newest scheduled base backups and deletes older ones, saying why', () => {
    const backups = Array.from({ length: 100 }, (_, i) => daily(i));
    const plan = planRetention(backups, now);
    assert.deepEqual(
      plan.delete.map((d) => d.id).sort(),
      Array.from({ length: 10 }, (_, i) => `b${90 + i}`).sort(),
    );
    assert.match(plan.delete[0]!.reason, /older than the 90 newest scheduled/);
    assert.equal(plan.keep.find((k) => k.id === 'b7')?.reason, 'anchors the 7-day recovery window');
    assert.match(plan.keep.find((k) => k.id === 'b3')!.reason, /inside the 7-day recovery window/);
    // WAL: from the anchor (7 days ago) on, plus the segments of older kept backups only.
    assert.equal(plan.wal.keepFrom, daily(7).startWal);
    assert.equal(walDeletable(walSegmentName(1, 1000n - 75n), plan), true);
    assert.equal(walDeletable(daily(8).startWal!, plan), false);
    assert.equal(walDeletable(daily(2).startWal!, plan), false);
  });

  void it('never deletes the last good base backup, even when every newer one failed', () => {
    const backups = [daily(120), ...Array.from({ length: 95 }, (_, i) => daily(i, 'failed'))];
    const plan = planRetention(backups, now, {
      recoveryWindowDays: 7,
      maxScheduledBaseBackups: 1,
      volumeSnapshotDays: 90,
    });
    assert.ok(!plan.delete.some((d) => d.id === 'b120'));
    assert.equal(
      plan.keep.find((k) => k.id === 'b120')?.reason,
      'the last good base backup is never deleted',
    );
    // Failed ones inside the window stay for diagnosis; older failed ones go.
    assert.ok(plan.keep.some((k) => k.id === 'b3'));
    assert.match(plan.delete.find((d) => d.id === 'b50')!.reason, /failed.*never usable/);
    assert.equal(plan.wal.keepFrom, daily(120).startWal);
  });

  void it('a backup that failed verification is not good', () => {
    const plan = planRetention([daily(100), { ...daily(1), verifyFailed: true }], now);
    assert.equal(
      plan.keep.find((k) => k.id === 'b100')?.reason,
      'the last good base backup is never deleted',
    );
  });

  void it('never breaks a chain: a kept incremental keeps the backups it reads from', () => {
    // 100 daily backups: a full one every 7 days (d % 7 === 6), incrementals reading from their week's
    // full and the older incrementals of that week.
    const fullOf = (d: number) => d + ((6 - (d % 7) + 7) % 7);
    const backups = Array.from({ length: 100 }, (_, d) => {
      const full = fullOf(d);
      const refs = Array.from({ length: full - d }, (_, i) => `b${d + 1 + i}`);
      return refs.length ? { ...daily(d), references: refs } : daily(d);
    });
    const plan = planRetention(backups, now);
    const kept = new Map(plan.keep.map((k) => [k.id, k.reason]));
    assert.match(kept.get('b90') ?? '', /incremental backup b8\d reads from it/);
    assert.ok(
      plan.delete.some((d) => d.id === 'b91'),
      'nothing kept reads from b91',
    );
    assert.ok(
      plan.delete.some((d) => d.id === 'b97'),
      'nothing kept reads from b97',
    );
    assert.ok(!walDeletable(daily(90).startWal!, plan), 'the WAL the chain start needs stays');
  });

  void it('schedules a full base backup weekly and incrementals on top of the newest good one between', () => {
    const full = (d: number) => daily(d);
    const incr = (d: number, refs: string[]) => ({ ...daily(d), references: refs });
    assert.equal(incrementalParentOf([], now), undefined);
    assert.equal(incrementalParentOf([full(1)], now), 'b1');
    assert.equal(incrementalParentOf([full(3), incr(2, ['b3']), incr(1, ['b3'])], now), 'b1');
    assert.equal(incrementalParentOf([full(7), incr(1, ['b7'])], now), undefined, 'a week: full again');
    assert.equal(
      incrementalParentOf([full(2), incr(1, ['b2']), { ...incr(0.5, ['b2']), verifyFailed: true }], now),
      'b1',
    );
  });

  void it('keeps on-demand and pre-upgrade backups until deleted', () => {
    const old = { ...daily(300), id: 'od', kind: 'on-demand' as const };
    const pre = { ...daily(200), id: 'pu', kind: 'pre-upgrade' as const };
    const plan = planRetention([old, pre, daily(0)], now);
    assert.deepEqual(plan.delete, []);
    assert.match(plan.keep.find((k) => k.id === 'od')!.reason, /kept until deleted/);
  });

  void it('keeps volume snapshots 90 days and always the newest good one of each volume', () => {
    const snap = (d: number, volume: string, status: BackupRecord['status'] = 'succeeded'): BackupRecord => ({
      id: `${volume}${d}`,
      type: 'volume',
      kind: 'scheduled',
      status,
      volume,
      startedAt: daysAgo(d),
      finishedAt: daysAgo(d),
    });
    const plan = planRetention([snap(10, 'a'), snap(91, 'a'), snap(200, 'b'), snap(95, 'c', 'failed')], now);
    assert.deepEqual(plan.delete.map((d) => d.id).sort(), ['a91', 'c95']);
    assert.match(plan.keep.find((k) => k.id === 'b200')!.reason, /last good snapshot of volume b/);
  });
});

void describe('recoverable window and targets', () => {
  const seg = (n: number, at: string) => ({ name: walSegmentName(1, BigInt(n)), walEndTime: at });
  const b = (id: string, start: number, at: string): BackupRecord => ({
    id,
    type: 'base',
    kind: 'scheduled',
    status: 'succeeded',
    startedAt: at,
    finishedAt: at,
    startWal: walSegmentName(1, BigInt(start)),
    stopWal: walSegmentName(1, BigInt(start)),
  });

  void it('runs from the oldest good backup with an unbroken chain to the newest segment', () => {
    const backups = [b('old', 1, daysAgo(3)), b('new', 5, daysAgo(1))];
    const segments = [1, 2, 3, 4, 5, 6].map((n) => seg(n, daysAgo(3 - n * 0.5)));
    const w = recoverableWindow(backups, segments);
    assert.equal(w?.from, daysAgo(3));
    assert.equal(w?.to, daysAgo(0));
    assert.equal(w?.oldestBackupId, 'old');
    // A missing segment 3 cuts the chain: only the newer backup counts.
    const gap = recoverableWindow(
      backups,
      segments.filter((s) => !s.name.endsWith('03')),
    );
    assert.equal(gap?.oldestBackupId, 'new');
    assert.equal(recoverableWindow([], segments), undefined);
  });

  void it('refuses a target outside the window, naming it', () => {
    const w = { from: daysAgo(3), to: daysAgo(1), oldestBackupId: 'x', newestSegment: 'y' };
    assert.throws(
      () => validateRestoreTarget({ kind: 'time', time: daysAgo(5) }, w),
      (e: Error) => e.message.includes('outside the recoverable window') && e.message.includes(daysAgo(3)),
    );
    assert.throws(() => validateRestoreTarget({ kind: 'time', time: daysAgo(0) }, w), /outside/);
    validateRestoreTarget({ kind: 'time', time: daysAgo(2) }, w);
    assert.throws(() => validateRestoreTarget({ kind: 'latest' }, undefined), /Nothing to restore/);
  });

  void it('starts from the newest good backup consistent before the target', () => {
    const backups = [
      b('a', 1, daysAgo(3)),
      b('c', 5, daysAgo(1)),
      { ...b('f', 6, daysAgo(0.5)), status: 'failed' as const },
    ];
    assert.equal(baseBackupFor({ kind: 'time', time: daysAgo(2) }, backups)?.id, 'a');
    assert.equal(baseBackupFor({ kind: 'latest' }, backups)?.id, 'c');
    assert.equal(baseBackupFor({ kind: 'backup', backupId: 'f' }, backups), undefined);
  });
});
