/**
 * Backups and restores through the control plane against real clusters: the PITR test (into a clone and
 * in place), a volume brought back, a corrupt file found by verify and refused by restore, the window
 * refusal, and a restore drill. One control plane for the whole file.
 */
import assert from 'node:assert/strict';
import { appendFile, open, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { findFreePort, readManifest, packName } from '@msp/runtime-local';
import { startControlPlane, type ControlPlane } from '../server.js';
import { createLocalRuntime } from '../targets/local/index.js';
import { createFixtureRepo, eventually, type FixtureRepo } from '../testing/fixture-repo.js';
import { createBackupsModule } from './module.js';
import { localTargetOf, localRepositoryOf } from '../testing/local-target.js';

describe('backups and restores', () => {
  let repo: FixtureRepo;
  let cp: ControlPlane;
  const key = 'releaseregistry/dev';

  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${cp.url}/api/v1${path}`, {
      ...init,
      headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/json' },
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> };
  };
  const run = async (path: string, body: unknown) => {
    const r = await api(path, { method: 'POST', body: JSON.stringify(body) });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const op = await cp.engine.waitFor(String(r.body.id), 180_000);
    return op!;
  };
  const ok = async (path: string, body: unknown) => {
    const op = await run(path, body);
    if (op.status !== 'succeeded') {
      const log = await cp.store.readLog(op.id);
      assert.fail(`${op.kind} ${op.status}: ${op.error}\n${log.map((l) => l.message).join('\n')}`);
    }
    return op;
  };
  const db = async (k = key) => {
    const cluster = (await localTargetOf(cp).cluster(k))!;
    const client = new pg.Client(cluster.connectionConfig('admin', 'releaseregistry'));
    await client.connect();
    return client;
  };
  const sql = async (text: string, k = key) => {
    const c = await db(k);
    try {
      return (await c.query(text)).rows as Record<string, unknown>[];
    } finally {
      await c.end();
    }
  };
  /** Switches WAL and waits until everything written so far is in the archive. */
  const archiveNow = async () => {
    const [row] = await sql('SELECT pg_walfile_name(pg_switch_wal()) AS wal');
    await eventually('the WAL segment to be archived', 30_000, async () => {
      const list = await api(`/backups?deployment=${encodeURIComponent(key)}`);
      const last = (list.body.lastArchivedWal as { name: string } | null)?.name ?? '';
      return last >= String(row!.wal) ? true : undefined;
    });
  };

  let proxyPort = 0;
  const start = async () =>
    startControlPlane({
      repoDir: repo.dir,
      port: await findFreePort(),
      createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort }),
      modules: [createBackupsModule({ schedules: false })],
      log: () => undefined,
    });

  before(async () => {
    repo = await createFixtureRepo({ name: 'backups' });
    await appendFile(
      join(repo.dir, 'services', 'releaseregistry', 'service.yaml'),
      '      volumes:\n        - name: files\n          sizeGB: 1\n',
    );
    proxyPort = await findFreePort();
    cp = await start();
    await eventually('the registry to be healthy', 90_000, async () =>
      (await cp.store.getDeployment(key))?.status === 'healthy' ? true : undefined,
    );
  });

  after(async () => {
    await cp?.stop();
    if (repo) await rm(repo.dir, { recursive: true, force: true });
  });

  let recorded = '';

  test('PITR into a clone: base backup, 2 rows, the time, a 3rd row, archived, restore → exactly 2 rows', async () => {
    await sql('CREATE TABLE pitr (n int)');
    const backup = await ok('/backups', { deployment: key, reason: 'test' });
    assert.match(String(backup.result?.backupId), /-base$/);
    await sql('INSERT INTO pitr VALUES (1), (2)');
    recorded = ((await sql('SELECT clock_timestamp() AS t'))[0]!.t as Date).toISOString();
    await new Promise((r) => setTimeout(r, 50));
    await sql('INSERT INTO pitr VALUES (3)');
    await archiveNow();

    const list = await api(`/backups?deployment=${encodeURIComponent(key)}`);
    const window = list.body.window as { from: string; to: string };
    assert.ok(window.from <= recorded && recorded <= window.to, JSON.stringify(window));
    assert.equal(typeof (list.body.lastGoodBaseBackup as { ageSeconds: number }).ageSeconds, 'number');

    await ok('/restores', { deployment: key, to: recorded, type: 'database', into: 'pitrclone' });
    const rows = await sql('SELECT n FROM pitr ORDER BY n', 'releaseregistry/pitrclone');
    assert.deepEqual(
      rows.map((r) => r.n),
      [1, 2],
    );
    const clone = await cp.store.getDeployment('releaseregistry/pitrclone');
    assert.equal(clone?.managedBy, 'clone');
    // The original is untouched.
    assert.equal((await sql('SELECT count(*)::int AS n FROM pitr'))[0]!.n, 3);
    await cp.runtime.databases.stop('releaseregistry/pitrclone');
  });

  test('a target outside the recoverable window is refused with the window', async () => {
    const r = await api('/restores', {
      method: 'POST',
      body: JSON.stringify({ deployment: key, to: '2000-01-01T00:00:00Z', inPlace: true }),
    });
    assert.equal(r.status, 400);
    assert.match(
      String((r.body.error as { message: string }).message),
      /outside the recoverable window \(20/,
    );
  });

  test('PITR in place: safety backup, stop, restore, recover, start, health → exactly 2 rows', async () => {
    const op = await ok('/restores', { deployment: key, to: recorded, inPlace: true });
    assert.ok(op.result?.safetyBackupId);
    const rows = await sql('SELECT n FROM pitr ORDER BY n');
    assert.deepEqual(
      rows.map((r) => r.n),
      [1, 2],
    );
    assert.equal((await cp.store.getDeployment(key))?.status, 'healthy');
    // The service answers again (it reads its own database).
    await sql('INSERT INTO pitr VALUES (4)');
  });

  test('delta PITR in place: rewrites only what differs, then exactly 2 rows again', async () => {
    const op = await ok('/restores', { deployment: key, to: recorded, inPlace: true, delta: true });
    const step = op.steps.find((s) => s.name === 'restore-files');
    const m = /delta restore of \S+: (\d+) of (\d+) files rewritten/.exec(step?.detail ?? '');
    assert.ok(m, step?.detail);
    assert.ok(Number(m[1]) < Number(m[2]) / 2, step?.detail);
    const rows = await sql('SELECT n FROM pitr ORDER BY n');
    assert.deepEqual(
      rows.map((r) => r.n),
      [1, 2],
    );
    assert.equal((await cp.store.getDeployment(key))?.status, 'healthy');
    const refused = await api('/restores', {
      method: 'POST',
      body: JSON.stringify({ deployment: key, latest: true, into: 'x', delta: true }),
    });
    assert.equal(refused.status, 400);
    assert.match(String((refused.body.error as { message: string }).message), /--delta .*--in-place/);
  });

  test('volumes: write a file, snapshot, delete it, restore --type volume:files brings it back', async () => {
    const dir = join(localTargetOf(cp).paths(key).volumes, 'files');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'report.txt'), 'precious');
    await ok('/backups', { deployment: key });
    await rm(join(dir, 'report.txt'));
    await ok('/restores', { deployment: key, latest: true, type: 'volume:files', inPlace: true });
    assert.equal(await readFile(join(dir, 'report.txt'), 'utf8'), 'precious');
  });

  test('a flipped byte: verify fails naming the file, restore refuses it', async () => {
    const op = await ok('/backups', { deployment: key });
    const id = String(op.result?.backupId);
    const repository = localRepositoryOf(cp, key);
    const m = await readManifest(repository, id);
    const victim = m.files.find((f) => f.path === 'global/pg_control')!;
    const h = await open(join(repository.location, ...packName(id).split('/')), 'r+');
    const at = victim.chunks[0]![0] + 10;
    const b = Buffer.alloc(1);
    await h.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0x40;
    await h.write(b, 0, 1, at);
    await h.close();
    const verify = await run(`/backups/${id}/verify`, {});
    assert.equal(verify.status, 'failed');
    assert.match(String(verify.error), /global\/pg_control/);
    const list = await api(`/backups?deployment=${encodeURIComponent(key)}`);
    const row = (list.body.backups as Array<{ id: string; verifyOk: boolean }>).find((x) => x.id === id);
    assert.equal(row?.verifyOk, false);
    // A corrupt backup is not good: --backup refuses it before anything changes.
    const r = await api('/restores', {
      method: 'POST',
      body: JSON.stringify({ deployment: key, backup: id, into: 'corrupt' }),
    });
    assert.equal(r.status, 412);
    assert.match(String((r.body.error as { message: string }).message), /not good/);
  });

  test('scheduled backups are incremental between weekly fulls; their chain cannot be deleted; they restore', async () => {
    await sql('CREATE TABLE incr (n int)');
    await sql('INSERT INTO incr SELECT generate_series(1, 1000)');
    const queued = await cp.engine.enqueue({
      kind: 'backup',
      deploymentKey: key,
      reason: 'test: the schedule',
      createdBy: 'scheduler',
      input: { kind: 'scheduled' },
    });
    const op = await cp.engine.waitFor(queued.id, 180_000);
    assert.equal(op?.status, 'succeeded', op?.error ?? '');
    const id = String(op.result?.backupId);
    const b = (await api(`/backups?deployment=${encodeURIComponent(key)}`)).body.backups as Array<{
      id: string;
    }>;
    assert.ok(b.some((x) => x.id === id));
    const record = await localRepositoryOf(cp, key).get(`base/${id}/manifest.json`);
    const manifest = JSON.parse(record.toString()) as { incremental?: { references: string[] } };
    assert.ok(manifest.incremental, 'the scheduled backup is incremental');
    const parent = manifest.incremental.references[0]!;
    const del = await api(`/backups/${parent}/delete`, { method: 'POST', body: '{}' });
    assert.equal(del.status, 412, JSON.stringify(del.body));
    assert.match(
      String((del.body.error as { message: string }).message),
      new RegExp(`incremental backup ${id} reads from it`),
    );
    await ok('/restores', { deployment: key, backup: id, type: 'database', into: 'incrclone' });
    const rows = await sql('SELECT count(*)::int AS n FROM incr', 'releaseregistry/incrclone');
    assert.equal(rows[0]!.n, 1000);
    await cp.runtime.databases.stop('releaseregistry/incrclone');
    // Once nothing reads it and a newer good backup exists, it is deleted with its files.
    await ok('/backups', { deployment: key });
    const gone = await api(`/backups/${id}/delete`, { method: 'POST', body: '{}' });
    assert.equal(gone.status, 202, JSON.stringify(gone.body));
    const deleted = await cp.engine.waitFor(String(gone.body.id), 60_000);
    assert.equal(deleted?.status, 'succeeded', deleted?.error ?? '');
    await assert.rejects(localRepositoryOf(cp, key).get(`base/${id}/manifest.json`));
    await assert.rejects(localRepositoryOf(cp, key).get(`incarnation/${id}`));
    const listed = (await api(`/backups?deployment=${encodeURIComponent(key)}`)).body.backups as {
      id: string;
    }[];
    assert.ok(!listed.some((x) => x.id === id));
  });

  test('a restore drill restores the latest backup into a scratch cluster and records row counts', async () => {
    const op = await ok('/backups/drills', { deployment: key });
    const drill = op.result?.drill as { rowCounts: Record<string, number> };
    assert.ok(Object.keys(drill.rowCounts).some((t) => t.endsWith('public.pitr')));
    const list = await api(`/backups?deployment=${encodeURIComponent(key)}`);
    assert.equal((list.body.drills as Array<{ ok: boolean }>)[0]?.ok, true);
  });

  test('streaming WAL: kill -9 of the postmaster under a steady insert stream, restore --latest has every committed row', async () => {
    await eventually('the WAL receiver to stream', 30_000, async () =>
      Number((await sql('SELECT count(*)::int AS n FROM pg_stat_replication'))[0]!.n) > 0 ? true : undefined,
    );
    await sql('CREATE TABLE stream (id serial primary key)');
    const writer = await db();
    let last = 0;
    const until = Date.now() + 2000;
    while (Date.now() < until) {
      last = (await writer.query<{ id: number }>('INSERT INTO stream DEFAULT VALUES RETURNING id')).rows[0]!
        .id;
      await new Promise((r) => setTimeout(r, 20));
    }
    writer.on('error', () => undefined);
    const cluster = (await localTargetOf(cp).cluster(key))!;
    process.kill((await cluster.pid())!, 'SIGKILL');
    await writer.end().catch(() => undefined);
    await ok('/restores', { deployment: key, latest: true, type: 'database', into: 'rpoclone' });
    const rows = await sql('SELECT coalesce(max(id), 0)::int AS n FROM stream', 'releaseregistry/rpoclone');
    assert.ok(Number(rows[0]!.n) >= last, `last committed ${last}, restored up to ${String(rows[0]!.n)}`);
    await cp.runtime.databases.stop('releaseregistry/rpoclone');
  });

  test('a restarted control plane brings restore clones back: a data-only clone gets its database, no workload', async () => {
    const clone = 'releaseregistry/pitrclone';
    assert.equal((await cp.store.getDeployment(clone))?.targetRelease, null);
    await cp.stop();
    cp = await start();
    await eventually('the data-only clone to answer again', 60_000, async () =>
      (await sql('SELECT count(*)::int AS n FROM pitr', clone).catch(() => undefined))?.[0]?.n === 2
        ? true
        : undefined,
    );
    assert.equal(
      cp.runtime.status(clone)?.instances.length ?? 0,
      0,
      'no workload runs for a data-only clone',
    );
  });
});
