import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, open, mkdir, readdir, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { findFreePort } from '../net.js';
import { createPostgresCluster, postgresOsUser, type PostgresCluster } from '../postgres/index.js';
import { startTestCluster, type TestCluster } from '../testing.js';
import {
  clearRecoverySql,
  createDirectoryRepository,
  listArchivedWal,
  packName,
  readManifest,
  restoreBaseBackup,
  restoreVolume,
  snapshotVolume,
  takeBaseBackup,
  verifyArchivedWal,
  verifyBaseBackup,
  waitForRecovery,
  writeRecoveryConfig,
  type BackupRepository,
  type DeltaSummary,
} from './index.js';

let tc: TestCluster;
let dir: string;
let repo: BackupRepository;
const restored: PostgresCluster[] = [];

async function waitFor(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

void before(async () => {
  tc = await startTestCluster({ databases: ['app'] });
  dir = await mkdtemp(join(tmpdir(), 'msp-backup-'));
  await chmod(dir, 0o711);
  repo = createDirectoryRepository(join(dir, 'repo'));
});
void after(async () => {
  for (const c of restored) await c.stop('immediate').catch(() => undefined);
  await tc.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** Switches WAL and waits until the segment holding everything so far is archived. */
async function archiveNow(): Promise<void> {
  const [row] = await tc.cluster.query<{ wal: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS wal');
  const archive = tc.cluster.options.archiveDir;
  await waitFor(`${row!.wal} archived`, async () =>
    (await listArchivedWal(archive)).some((w) => w.name === row!.wal),
  );
}

async function restoreInto(
  name: string,
  backupId: string,
  target: Parameters<typeof writeRecoveryConfig>[0]['target'],
  options: { delta?: (d: DeltaSummary) => void } = {},
) {
  const o = tc.cluster.options;
  const clusterDir = join(dir, name);
  const cluster = createPostgresCluster({
    ...o,
    name,
    dir: clusterDir,
    port: await findFreePort(),
    archiveDir: join(dir, `${name}-archive`),
  });
  restored.push(cluster);
  const user = await postgresOsUser();
  const owner = user.switchUser ? { uid: user.uid, gid: user.gid } : undefined;
  await mkdir(clusterDir, { recursive: true, mode: 0o711 });
  await restoreBaseBackup({
    repository: repo,
    id: backupId,
    targetDir: join(clusterDir, 'data'),
    ...(owner ? { owner } : {}),
    ...(options.delta ? { delta: true, onDelta: options.delta } : {}),
  });
  await cluster.configure();
  await writeRecoveryConfig({
    dataDir: join(clusterDir, 'data'),
    archiveDir: o.archiveDir,
    target,
    ...(owner ? { owner } : {}),
  });
  await cluster.start();
  await waitForRecovery({
    inRecovery: async () => (await cluster.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]!.r,
    isRunning: () => cluster.isRunning(),
    logFile: join(clusterDir, 'run', 'postgres.log'),
    timeoutMs: 60_000,
  });
  // While it recovered, restartpoints were held off; once promoted the cluster's own settings are back.
  for (const sql of await clearRecoverySql(join(clusterDir, 'data'))) await cluster.query(sql);
  const settings = await cluster.query<{ name: string; setting: string; unit: string }>(
    "SELECT name, setting, unit FROM pg_settings WHERE name IN ('max_wal_size', 'checkpoint_timeout') ORDER BY name",
  );
  assert.deepEqual(
    settings.map((r) => `${r.name}=${r.setting}${r.unit}`),
    ['checkpoint_timeout=300s', 'max_wal_size=512MB'],
  );
  await cluster.ensure();
  return cluster;
}

void describe('base backups and point-in-time recovery', () => {
  let backupId: string;
  let recorded: string;

  void it('takes an online base backup with a manifest of checksummed files', async () => {
    await tc.cluster.query('CREATE TABLE t (n int, at timestamptz default clock_timestamp())', [], 'app');
    backupId = 'b1';
    const m = await takeBaseBackup({
      repository: repo,
      id: backupId,
      connection: tc.cluster.connectionConfig('admin', 'postgres'),
      dataDir: join(tc.cluster.options.dir, 'data'),
      chunkBytes: 1024 * 1024,
    });
    assert.equal(m.timeline, 1);
    assert.match(m.startWal, /^[0-9A-F]{24}$/);
    assert.ok(m.files.some((f) => f.path === 'global/pg_control'));
    assert.ok(!m.files.some((f) => f.path.startsWith('pg_wal/') || f.path === 'postmaster.pid'));
    assert.ok(m.storedBytes < m.rawBytes);
    assert.match(m.backupLabel, /START WAL LOCATION/);
    assert.deepEqual((await verifyBaseBackup(repo, backupId)).problems, []);
    assert.equal((await readManifest(repo, backupId)).stopLsn, m.stopLsn);
  });

  void it('restores to a recorded time: exactly the rows committed before it', async () => {
    await tc.cluster.query('INSERT INTO t (n) VALUES (1), (2)', [], 'app');
    recorded = (await tc.cluster.query<{ t: Date }>('SELECT clock_timestamp() AS t'))[0]!.t.toISOString();
    await new Promise((r) => setTimeout(r, 20)); // commit timestamps must differ from the target
    await tc.cluster.query('INSERT INTO t (n) VALUES (3)', [], 'app');
    await archiveNow();
    const clone = await restoreInto('pitr', backupId, { kind: 'time', time: recorded });
    const rows = await clone.query<{ n: number }>('SELECT n FROM t ORDER BY n', [], 'app');
    assert.deepEqual(
      rows.map((r) => r.n),
      [1, 2],
    );
    // Promoted, writable, recovery settings gone.
    await clone.query('INSERT INTO t (n) VALUES (9)', [], 'app');
    const auto = await readFile(join(clone.options.dir, 'data', 'postgresql.auto.conf'), 'utf8');
    assert.doesNotMatch(auto, /restore_command/);
    await clone.stop('fast');
  });

  void it('delta-restores over a changed data directory: rewrites only what differs, same rows', async () => {
    // The clone of the previous test has run on (a row 9, its own timeline, checkpoints): restore the
    // same backup and target over it in place.
    const data = join(dir, 'pitr', 'data');
    await writeFile(join(data, 'base', 'stray-file'), 'not in the backup');
    let summary: DeltaSummary | undefined;
    const clone = await restoreInto(
      'pitr',
      backupId,
      { kind: 'time', time: recorded },
      {
        delta: (d) => (summary = d),
      },
    );
    const rows = await clone.query<{ n: number }>('SELECT n FROM t ORDER BY n', [], 'app');
    assert.deepEqual(
      rows.map((r) => r.n),
      [1, 2],
    );
    assert.ok(summary);
    assert.ok(summary.filesRewritten > 0, 'the changed files were rewritten');
    assert.ok(summary.filesRewritten < summary.filesChecked / 2, JSON.stringify(summary));
    assert.ok(summary.removed >= 1, 'the stray file was removed');
    await assert.rejects(readFile(join(data, 'base', 'stray-file')), /ENOENT/);
    await clone.stop('fast');
  });

  void it('still restores a backup whose manifest has whole-file digests (older format)', async () => {
    const m = await readManifest(repo, backupId);
    const pack = await readFile(join(repo.location, ...packName(backupId).split('/')));
    const legacy = {
      ...m,
      id: 'legacy',
      pack: packName('legacy'),
      fileDigest: undefined,
      files: m.files.map((f) => {
        const hash = createHash('sha256');
        for (const [offset, length] of f.chunks)
          hash.update(gunzipSync(pack.subarray(offset, offset + length)));
        return { ...f, sha256: hash.digest('hex'), chunks: f.chunks.map(([a, b, c]) => [a, b, c]) };
      }),
    };
    await repo.put(packName('legacy'), pack);
    await repo.put('base/legacy/manifest.json', JSON.stringify(legacy));
    assert.deepEqual((await verifyBaseBackup(repo, 'legacy')).problems, []);
    const clone = await restoreInto('legacy', 'legacy', { kind: 'time', time: recorded });
    const rows = await clone.query<{ n: number }>('SELECT n FROM t ORDER BY n', [], 'app');
    assert.deepEqual(
      rows.map((r) => r.n),
      [1, 2],
    );
    await clone.stop('fast');
  });

  void it('restores the latest state', async () => {
    const clone = await restoreInto('latest', backupId, { kind: 'latest' });
    const rows = await clone.query<{ n: number }>('SELECT n FROM t ORDER BY n', [], 'app');
    assert.deepEqual(
      rows.map((r) => r.n),
      [1, 2, 3],
    );
    await clone.stop('fast');
  });

  void it('recovers through many segments with the prefetcher, and stops at a corrupt one instead of skipping it', async () => {
    await takeBaseBackup({
      repository: repo,
      id: 'b3',
      connection: tc.cluster.connectionConfig('admin', 'postgres'),
      dataDir: join(tc.cluster.options.dir, 'data'),
    });
    await tc.cluster.query('CREATE TABLE many (n int)', [], 'app');
    const segments: string[] = [];
    for (let i = 1; i <= 8; i++) {
      await tc.cluster.query('INSERT INTO many SELECT g FROM generate_series(1, 1000) g', [], 'app');
      const [row] = await tc.cluster.query<{ wal: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS wal');
      segments.push(row!.wal);
    }
    const archive = tc.cluster.options.archiveDir;
    await waitFor(`${segments.at(-1)} archived`, async () =>
      (await listArchivedWal(archive)).some((w) => w.name === segments.at(-1)),
    );
    const clone = await restoreInto('many', 'b3', { kind: 'latest' });
    const [count] = await clone.query<{ n: string }>('SELECT count(*) AS n FROM many', [], 'app');
    assert.equal(Number(count!.n), 8000);
    await clone.stop('fast');

    // Flip a byte in a segment in the middle: recovery must abort there, naming it, not end early.
    const victim = segments[4]!;
    const path = join(tc.cluster.options.archiveDir, `${victim}.gz`);
    const original = await readFile(path);
    const damaged = Buffer.from(original);
    damaged[200] = damaged[200]! ^ 0x01;
    await writeFile(path, damaged);
    try {
      await assert.rejects(restoreInto('many-corrupt', 'b3', { kind: 'latest' }), new RegExp(victim));
    } finally {
      await writeFile(path, original);
    }
  });

  void it('incremental backups: store only what changed, restore the chain to a time, and name corruption anywhere in it', async () => {
    const take = (id: string, incrementalOf?: Awaited<ReturnType<typeof readManifest>>) =>
      takeBaseBackup({
        repository: repo,
        id,
        connection: tc.cluster.connectionConfig('admin', 'postgres'),
        dataDir: join(tc.cluster.options.dir, 'data'),
        ...(incrementalOf ? { incrementalOf } : {}),
      });
    const full = await take('f1');
    await tc.cluster.query('CREATE TABLE incr (n int)', [], 'app');
    await tc.cluster.query('INSERT INTO incr VALUES (1), (2)', [], 'app');
    const i1 = await take('i1', full);
    assert.deepEqual(i1.incremental, { parent: 'f1', references: ['f1'] });
    assert.ok(i1.storedBytes < full.storedBytes / 2, `${i1.storedBytes} vs ${full.storedBytes}`);
    await tc.cluster.query('INSERT INTO incr VALUES (3)', [], 'app');
    const i2 = await take('i2', i1);
    assert.ok(i2.incremental?.references.includes('f1'));
    const at = (await tc.cluster.query<{ t: Date }>('SELECT clock_timestamp() AS t'))[0]!.t.toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await tc.cluster.query('INSERT INTO incr VALUES (4)', [], 'app');
    await archiveNow();
    assert.deepEqual((await verifyBaseBackup(repo, 'i2')).problems, []);
    const clone = await restoreInto('incr', 'i2', { kind: 'time', time: at });
    const rows = await clone.query<{ n: number }>('SELECT n FROM incr ORDER BY n', [], 'app');
    assert.deepEqual(
      rows.map((r) => r.n),
      [1, 2, 3],
    );
    await clone.stop('fast');

    // A flipped byte in the full backup's pack, in a chunk the second incremental reads: named, refused.
    const victim = i2.files.find((f) => f.chunks.some((c) => c[4] === 'f1') && f.size > 8192)!;
    const chunk = victim.chunks.find((c) => c[4] === 'f1')!;
    const packPath = join(repo.location, ...packName('f1').split('/'));
    const h = await open(packPath, 'r+');
    const pos = chunk[0] + Math.floor(chunk[1] / 2);
    const b = Buffer.alloc(1);
    await h.read(b, 0, 1, pos);
    b[0] = b[0]! ^ 0xff;
    await h.write(b, 0, 1, pos);
    try {
      const result = await verifyBaseBackup(repo, 'i2');
      assert.equal(result.ok, false);
      assert.ok(
        result.problems.some((p) => p.file === victim.path && /stored in base backup f1/.test(p.problem)),
        JSON.stringify(result.problems),
      );
      await assert.rejects(
        restoreBaseBackup({ repository: repo, id: 'i2', targetDir: join(dir, 'incr-corrupt') }),
        new RegExp(`file ${victim.path}.*stored in base backup f1`),
      );
    } finally {
      b[0] = b[0] ^ 0xff;
      await h.write(b, 0, 1, pos);
      await h.close();
    }
    // A link missing from the chain: named too.
    await repo.deletePrefix('base/f1/');
    const missing = await verifyBaseBackup(repo, 'i2');
    assert.match(missing.problems[0]?.problem ?? '', /base backup f1 is missing/);
  });

  void it('finds a flipped byte in the pack, naming the file, and refuses to restore it', async () => {
    const copyId = 'b2';
    await takeBaseBackup({
      repository: repo,
      id: copyId,
      connection: tc.cluster.connectionConfig('admin', 'postgres'),
      dataDir: join(tc.cluster.options.dir, 'data'),
    });
    const m = await readManifest(repo, copyId);
    const victim = m.files.find((f) => f.path === 'global/pg_control')!;
    const packPath = join(repo.location, ...packName(copyId).split('/'));
    const h = await open(packPath, 'r+');
    const at = victim.chunks[0]![0] + Math.floor(victim.chunks[0]![1] / 2);
    const b = Buffer.alloc(1);
    await h.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    await h.write(b, 0, 1, at);
    await h.close();
    const result = await verifyBaseBackup(repo, copyId);
    assert.equal(result.ok, false);
    assert.deepEqual(
      result.problems.map((p) => p.file),
      ['global/pg_control'],
    );
    await assert.rejects(
      restoreBaseBackup({ repository: repo, id: copyId, targetDir: join(dir, 'corrupt') }),
      /file global\/pg_control.*stored bytes do not match/,
    );
    // A manifest written before chunks carried the digest of their stored bytes: restore checks the raw
    // bytes instead, and refuses the flipped byte all the same.
    assert.ok(m.files.every((f) => f.chunks.every((c) => typeof c[5] === 'string')));
    const older = { ...m, files: m.files.map((f) => ({ ...f, chunks: f.chunks.map((c) => c.slice(0, 5)) })) };
    await writeFile(join(repo.location, 'base', copyId, 'manifest.json'), JSON.stringify(older));
    await assert.rejects(
      restoreBaseBackup({ repository: repo, id: copyId, targetDir: join(dir, 'corrupt-older') }),
      /file global\/pg_control/,
    );
  });

  void it('finds a flipped byte in an archived WAL file, naming it', async () => {
    const archive = tc.cluster.options.archiveDir;
    const [first] = await listArchivedWal(archive);
    assert.deepEqual(await verifyArchivedWal(archive, [first!.name]), []);
    const path = join(archive, `${first!.name}.gz`);
    const content = await readFile(path);
    content[100] = content[100]! ^ 0x01;
    await writeFile(path, content);
    const problems = await verifyArchivedWal(archive, [first!.name]);
    assert.equal(problems[0]?.file, `${first!.name}.gz`);
    assert.match(problems[0]?.problem ?? '', /corrupt/);
  });
});

void describe('volume snapshots', () => {
  void it('a deleted file comes back from a snapshot', async () => {
    const vol = join(dir, 'vol');
    await mkdir(join(vol, 'sub'), { recursive: true });
    await writeFile(join(vol, 'sub', 'a.txt'), 'hello');
    const m = await snapshotVolume({ repository: repo, id: 'v1', volume: 'files', dir: vol });
    assert.equal(m.volume, 'files');
    await rm(join(vol, 'sub', 'a.txt'));
    await writeFile(join(vol, 'new.txt'), 'later');
    await restoreVolume({ repository: repo, id: 'v1', dir: vol });
    assert.equal(await readFile(join(vol, 'sub', 'a.txt'), 'utf8'), 'hello');
    assert.deepEqual((await readdir(vol)).sort(), ['sub']);
  });
});
