import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestCluster, type TestCluster } from '../testing.js';
import { backupHistoryFile, createDirectoryRepository, takeBaseBackup, verifyBaseBackup } from './index.js';

let tc: TestCluster;
let dir: string;

void before(async () => {
  tc = await startTestCluster({ databases: ['app'] });
  dir = await mkdtemp(join(tmpdir(), 'msp-backup-speed-'));
  await chmod(dir, 0o711);
});
void after(async () => {
  await tc?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

void describe('on-demand base backup', () => {
  void it('returns with its stop segment and history file already archived (no once-a-second archive wait)', async () => {
    await tc.cluster.query(
      'CREATE TABLE t AS SELECT g, md5(g::text) AS h FROM generate_series(1, 40000) g',
      [],
      'app',
    );
    const repository = createDirectoryRepository(join(dir, 'repo'));
    for (const id of ['s1', 's2']) {
      const m = await takeBaseBackup({
        repository,
        id,
        connection: tc.cluster.connectionConfig('admin', 'postgres'),
        dataDir: join(tc.cluster.options.dir, 'data'),
      });
      // The backup needs its stop segment and the backup history file in the archive: both are there.
      const archived = await readdir(tc.cluster.options.archiveDir);
      assert.ok(archived.includes(`${m.stopWal}.gz`), `${m.stopWal} archived when the backup returns`);
      const history = backupHistoryFile(m.backupLabel, m.stopWal, m.walSegmentSize);
      assert.ok(archived.includes(`${history}.gz`), `${history} archived when the backup returns`);
      assert.ok(m.files.length > 1000);
      assert.deepEqual((await verifyBaseBackup(repository, id)).problems, []);
    }
  });

  void it('names the backup history file as PostgreSQL does', () => {
    const label =
      'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000080\n';
    assert.equal(
      backupHistoryFile(label, '000000010000000000000002', 16 * 1024 * 1024),
      '000000010000000000000002.00000028.backup',
    );
    const later = 'START WAL LOCATION: 1/A3000100 (file 0000000300000001000000A3)\n';
    assert.equal(
      backupHistoryFile(later, '0000000300000001000000A4', 16 * 1024 * 1024),
      '0000000300000001000000A3.00000100.backup',
    );
  });
});
