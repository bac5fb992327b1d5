import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PreconditionFailedError } from '../errors.js';
import { assertNotLastGood, lastGoodOf, type BackupRecord } from './index.js';

const base = (
  id: string,
  finishedAt: string,
  status: BackupRecord['status'] = 'succeeded',
): BackupRecord => ({
  id,
  type: 'base',
  kind: 'on-demand',
  status,
  startedAt: finishedAt,
  finishedAt,
});
const snapshot = (id: string, volume: string, finishedAt: string): BackupRecord => ({
  id,
  type: 'volume',
  kind: 'on-demand',
  volume,
  status: 'succeeded',
  startedAt: finishedAt,
  finishedAt,
});

void describe('the last good backup', () => {
  const older = base('a', '2026-01-01T00:00:00Z');
  const newer = base('b', '2026-01-02T00:00:00Z');
  const failed = base('c', '2026-01-03T00:00:00Z', 'failed');

  void it('is the newest good backup of its series', () => {
    assert.equal(lastGoodOf([older, newer, failed], older)?.id, 'b');
    assert.equal(lastGoodOf([snapshot('v1', 'files', '2026-01-05T00:00:00Z'), newer], newer)?.id, 'b');
  });

  void it('is never deleted on request; another good one of the series may be', () => {
    assert.throws(
      () => assertNotLastGood({ ...older, deploymentKey: 'svc/dev' }, [older, failed]),
      (e: unknown) =>
        e instanceof PreconditionFailedError &&
        e.message ===
          'Backup a is the last good base backup of svc/dev: it is never deleted. Take a newer one first.',
    );
    assert.doesNotThrow(() => assertNotLastGood(older, [older, newer]));
    assert.doesNotThrow(() => assertNotLastGood(failed, [failed]));
  });

  void it('counts per volume: the only snapshot of a volume stays even when other volumes have several', () => {
    const files = snapshot('f1', 'files', '2026-01-01T00:00:00Z');
    const media = [
      snapshot('m1', 'media', '2026-01-01T00:00:00Z'),
      snapshot('m2', 'media', '2026-01-02T00:00:00Z'),
    ];
    assert.throws(() => assertNotLastGood(files, [files, ...media]), /last good snapshot of volume files/);
    assert.doesNotThrow(() => assertNotLastGood(media[0]!, [files, ...media]));
  });
});
