/**
 * Backups survive crashes: kill -9 of PostgreSQL in the middle of writes, and kill -9 of the control plane
 * in the middle of a base backup. Each time the next backup and a restore succeed, and the recoverable
 * window has no hole: it reaches from the first backup to the newest archived write.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import pg from 'pg';
import { findFreePort } from '@msp/runtime-local';
import { startControlPlane, type ControlPlane } from '../server.js';
import { createLocalRuntime } from '../targets/local/index.js';
import { createFixtureRepo, eventually } from '../testing/fixture-repo.js';
import { mspUpHarness } from '../testing/msp-process.js';
import { createBackupsModule } from './module.js';
import { localTargetOf } from '../testing/local-target.js';

const key = 'releaseregistry/dev';
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

type Window = { from: string; to: string } | null;
type Listing = {
  window: Window;
  lastArchivedWal: { name: string } | null;
  backups: Array<{ id: string; status: string; type: string }>;
};

test('kill -9 of PostgreSQL mid-write: committed rows survive, the next backup and a restore succeed, no hole', async () => {
  const repo = await createFixtureRepo({ name: 'pgkill' });
  cleanups.push(() => rm(repo.dir, { recursive: true, force: true }));
  const proxyPort = await findFreePort();
  const cp: ControlPlane = await startControlPlane({
    repoDir: repo.dir,
    port: await findFreePort(),
    createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort }),
    modules: [createBackupsModule({ schedules: false })],
    log: () => undefined,
  });
  cleanups.push(() => cp.stop());
  const call = async (path: string, body?: unknown) => {
    const res = await fetch(`${cp.url}/api/v1${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await res.json()) as Record<string, unknown>;
  };
  const run = async (path: string, body: unknown) => {
    const op = await cp.engine.waitFor(String((await call(path, body)).id), 180_000);
    assert.equal(op?.status, 'succeeded', op?.error);
    return op;
  };
  await eventually('the registry to be healthy', 90_000, async () =>
    (await cp.store.getDeployment(key))?.status === 'healthy' ? true : undefined,
  );
  const cluster = (await localTargetOf(cp).cluster(key))!;
  const connect = async () => {
    const c = new pg.Client(cluster.connectionConfig('admin', 'releaseregistry'));
    await c.connect();
    c.on('error', () => undefined);
    return c;
  };
  const setup = await connect();
  await setup.query('CREATE TABLE writes (n int primary key, at timestamptz default clock_timestamp())');
  await setup.end();
  const first = await run('/backups', { deployment: key, reason: 'before the crash' });

  // Write one row per transaction until the server dies under us; count what was acknowledged.
  const writer = await connect();
  let acknowledged = 0;
  const writing = (async () => {
    for (let n = 1; ; n++) {
      await writer.query('INSERT INTO writes (n) VALUES ($1)', [n]);
      acknowledged = n;
    }
  })().catch(() => undefined);
  await eventually('some writes', 30_000, () => (acknowledged >= 200 ? true : undefined));
  const pid = await cluster.pid();
  assert.ok(pid);
  process.kill(pid, 'SIGKILL');
  await writing;
  await writer.end().catch(() => undefined);

  // The watchdog starts it again (crash recovery); every acknowledged row is there.
  const after = await eventually('PostgreSQL to be back', 60_000, async () => {
    const c = await connect();
    try {
      return Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM writes')).rows[0]!.n);
    } finally {
      await c.end();
    }
  });
  assert.ok(after >= acknowledged, `${after} rows after the crash, ${acknowledged} acknowledged`);
  const events = await cp.store.listEvents({ deploymentKey: key });
  assert.ok(events.some((e) => e.kind === 'database-restarted'));

  const c = await connect();
  await c.query('INSERT INTO writes (n) VALUES (1000000)');
  const { wal } = (await c.query('SELECT pg_walfile_name(pg_switch_wal()) AS wal')).rows[0] as {
    wal: string;
  };
  const lastWrite = ((await c.query('SELECT max(at) AS t FROM writes')).rows[0] as { t: Date }).t;
  await c.end();
  await run('/backups', { deployment: key, reason: 'after the crash' });
  const listing = await eventually('the last write to be archived', 30_000, async () => {
    const l = (await call(`/backups?deployment=${encodeURIComponent(key)}`)) as unknown as Listing;
    return (l.lastArchivedWal?.name ?? '') >= wal ? l : undefined;
  });
  assert.ok(listing.window, 'there is a recoverable window');
  assert.ok(listing.window.from <= String(first.finishedAt), `window ${JSON.stringify(listing.window)}`);
  assert.ok(
    Date.parse(listing.window.to) >= lastWrite.getTime(),
    `window ${JSON.stringify(listing.window)} ends before the last write`,
  );

  await run('/restores', { deployment: key, latest: true, type: 'database', into: 'aftercrash' });
  const clone = (await localTargetOf(cp).cluster('releaseregistry/aftercrash'))!;
  const restored = await clone.query<{ n: string }>(
    'SELECT count(*) AS n FROM writes',
    [],
    'releaseregistry',
  );
  assert.equal(Number(restored[0]!.n), after + 1);
  await cp.runtime.databases.stop('releaseregistry/aftercrash');
});

test('kill -9 of the control plane mid-backup: the backup is taken again, and restore works with no hole', async () => {
  const repo = await createFixtureRepo({ name: 'cpkill-backup' });
  cleanups.push(() => rm(repo.dir, { recursive: true, force: true }));
  const port = await findFreePort();
  const proxyPort = await findFreePort();
  const msp = mspUpHarness({ repo: repo.dir, port, proxyPort });
  cleanups.push(() => msp.stopAll());
  const call = msp.api;
  type Op = {
    id: string;
    status: string;
    attempt: number;
    error?: string;
    steps: Array<{ name: string; status: string }>;
  };
  const finished = (id: string) =>
    eventually(`operation ${id} to finish`, 180_000, async () => {
      const op = await call<Op>(`/operations/${id}`);
      return op.status === 'succeeded' || op.status === 'failed' ? op : undefined;
    });

  const first = msp.start();
  await eventually('the registry to be healthy', 120_000, async () => {
    const s = await call<{ deployments: Array<{ status: string }> }>('/status');
    return s.deployments[0]?.status === 'healthy' ? true : undefined;
  });
  // Enough incompressible data that the base backup takes a moment.
  const access = await call<{ user: string; password: string; host: string; port: number }>('/pg/connect', {
    deployment: key,
    access: 'write',
    sessionTimeoutSeconds: 600,
  });
  const db = new pg.Client({ ...access, database: 'releaseregistry' });
  await db.connect();
  await db.query(
    `CREATE TABLE filler AS SELECT g AS n, md5(random()::text) || md5(random()::text) || md5(random()::text) AS s
     FROM generate_series(1, 600000) g`,
  );
  await db.end();

  const queued = await call<{ id: string }>('/backups', { deployment: key, reason: 'interrupted' });
  await eventually('the base backup to be under way', 30_000, async () => {
    const op = await call<Op>(`/operations/${queued.id}`);
    return op.steps.some((s) => s.status === 'running') ? true : undefined;
  });
  first.child.kill('SIGKILL');
  await first.exited();

  msp.start();
  const op = await finished(queued.id);
  assert.equal(op.status, 'succeeded', op.error);
  assert.ok(op.attempt >= 2, 'the backup was resumed by the second control plane');
  const listing = await call<Listing & { backups: Array<{ id: string; status: string; type: string }> }>(
    `/backups?deployment=${encodeURIComponent(key)}`,
  );
  const bases = listing.backups.filter((b) => b.type === 'base');
  assert.ok(bases.some((b) => b.status === 'succeeded'));
  assert.ok(listing.window, 'there is a recoverable window');

  const restore = await call<{ id: string }>('/restores', {
    deployment: key,
    latest: true,
    type: 'database',
    into: 'aftercp',
  });
  const restored = await finished(restore.id);
  assert.equal(restored.status, 'succeeded', restored.error);
  const clone = await call<{ user: string; password: string; host: string; port: number }>('/pg/connect', {
    deployment: 'releaseregistry/aftercp',
    access: 'read',
    sessionTimeoutSeconds: 60,
  });
  const check = new pg.Client({ ...clone, database: 'releaseregistry' });
  await check.connect();
  const { rows } = await check.query<{ n: number }>('SELECT count(*)::int AS n FROM filler');
  await check.end();
  assert.equal(rows[0]!.n, 600000);
});
