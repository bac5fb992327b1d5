/**
 * `msp server`: the control plane against an external state database (DATABASE_URL), and two control
 * planes sharing it: the second finds the migrations done (success), and both serve the same state.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '@msp/runtime-local';
import { startTestCluster, type TestCluster } from '@msp/runtime-local/testing';
import { startControlPlane, type ControlPlane } from './server.js';
import { createLocalRuntime } from './targets/local/index.js';
import { createFixtureRepo, type FixtureRepo } from './testing/fixture-repo.js';

let db: TestCluster;
let repo: FixtureRepo;
const planes: ControlPlane[] = [];
const dirs: string[] = [];

before(async () => {
  db = await startTestCluster({ databases: ['msp'], name: 'external-state' });
  repo = await createFixtureRepo({ name: 'external' });
});

after(async () => {
  for (const p of planes) await p.stop();
  await db?.cleanup();
  if (repo) await rm(repo.dir, { recursive: true, force: true });
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function start(): Promise<ControlPlane> {
  const dataDir = await mkdtemp(join(tmpdir(), 'msp-data-'));
  dirs.push(dataDir);
  const proxyPort = await findFreePort();
  const cp = await startControlPlane({
    repoDir: repo.dir,
    dataDir,
    port: await findFreePort(),
    databaseUrl: db.connectionString('admin', 'msp'),
    reconcile: false,
    createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort }),
    log: () => undefined,
  });
  planes.push(cp);
  return cp;
}

test('two control planes over one DATABASE_URL share migrations, tokens and operations', async () => {
  const [a, b] = await Promise.all([start(), start()]);
  const migrations = await db.cluster.query<{ name: string }>(
    'select name from schema_migrations order by name',
    [],
    'msp',
  );
  assert.ok(migrations.length >= 2);
  assert.equal(new Set(migrations.map((m) => m.name)).size, migrations.length, 'each migration applied once');

  // A token minted by one replica is valid on the other: tokens live in the shared database.
  const info = await fetch(`${b.url}/api/v1/info`, { headers: { authorization: `Bearer ${a.adminToken}` } });
  assert.equal(info.status, 200);
  const reconcile = await fetch(`${a.url}/api/v1/reconcile`, {
    method: 'POST',
    headers: { authorization: `Bearer ${a.adminToken}` },
  });
  assert.equal(reconcile.status, 200);
  const ops = (await (
    await fetch(`${b.url}/api/v1/operations`, { headers: { authorization: `Bearer ${b.adminToken}` } })
  ).json()) as { operations: Array<{ deploymentKey: string }> };
  assert.ok(ops.operations.some((o) => o.deploymentKey === 'releaseregistry/dev'));
});
