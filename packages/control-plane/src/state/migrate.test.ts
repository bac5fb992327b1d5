/**
 * Migrations per owner: a fresh database gets every set; a database migrated by the earlier shared scheme
 * (core 001-004, backups and rollouts tables in core's folder) is recognised, so nothing is applied again
 * and no row is lost; two control planes migrating at once apply each migration once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { findFreePort } from '@msp/runtime-local';
import { startTestCluster, type TestCluster } from '@msp/runtime-local/testing';
import { BACKUP_MIGRATIONS } from '../backups/store.js';
import { ROLLOUT_MIGRATIONS } from '../rollouts/store.js';
import { defaultModules } from '../modules.js';
import { startControlPlane } from '../server.js';
import { createLocalRuntime } from '../targets/local/index.js';
import { createFixtureRepo } from '../testing/index.js';
import { createDb } from './db.js';
import { CORE_MIGRATIONS, migrateState, migrationsBeside, type MigrationSet } from './migrate.js';

const SETS = [CORE_MIGRATIONS, ROLLOUT_MIGRATIONS, BACKUP_MIGRATIONS];
let db: TestCluster;
const pools: pg.Pool[] = [];

before(async () => {
  db = await startTestCluster({ databases: ['fresh', 'old', 'race'], name: 'migrate' });
});
after(async () => {
  for (const p of pools) await p.end();
  await db?.cleanup();
});

function poolOf(database: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: db.connectionString('admin', database), max: 2 });
  pools.push(pool);
  return pool;
}

async function tracked(pool: pg.Pool): Promise<string[]> {
  const r = await pool.query<{ m: string }>(
    "select module || '/' || name as m from schema_migrations order by module, name",
  );
  return r.rows.map((row) => row.m);
}

const sql = (set: MigrationSet, file: string) => readFile(new URL(file, set.folder), 'utf8');

test('a fresh database gets core and every module its tables, tracked per module', async () => {
  const pool = poolOf('fresh');
  const applied = await migrateState(createDb(pool), SETS);
  assert.ok(applied.includes('core/001_init.sql'));
  assert.ok(applied.includes('backups/001_backups.sql'));
  assert.ok(applied.includes('rollouts/001_rollouts.sql'));
  assert.deepEqual(await tracked(pool), [...applied].sort());
  for (const table of ['deployments', 'operations', 'backups', 'backup_drills', 'rollout_history']) {
    const r = await pool.query<{ t: string | null }>('select to_regclass($1) as t', [table]);
    assert.ok(r.rows[0]?.t, `${table} exists`);
  }
  assert.deepEqual(await migrateState(createDb(pool), SETS), [], 'a second run finds nothing to do');
});

test('a database migrated by the shared scheme (core 001-004) is recognised: nothing re-applied, nothing lost', async () => {
  const pool = poolOf('old');
  // What 0.1.0 did: one folder, one `name` column; backups were 003, rollouts 004.
  await pool.query(
    'create table schema_migrations (name text primary key, applied_at timestamptz not null default now())',
  );
  const old: Array<[string, Promise<string>]> = [
    ['001_init.sql', sql(CORE_MIGRATIONS, '001_init.sql')],
    ['002_operation_input.sql', sql(CORE_MIGRATIONS, '002_operation_input.sql')],
    ['003_backups.sql', sql(BACKUP_MIGRATIONS, '001_backups.sql')],
    ['004_rollouts.sql', sql(ROLLOUT_MIGRATIONS, '001_rollouts.sql')],
  ];
  for (const [name, text] of old) {
    await pool.query(await text);
    await pool.query('insert into schema_migrations (name) values ($1)', [name]);
  }
  await pool.query(
    "insert into backups (id, deployment_key, type, kind, status) values ('b1', 'svc/dev', 'base', 'on-demand', 'succeeded')",
  );
  await pool.query(
    "insert into rollout_history (service, action, version, to_environment, actor) values ('svc', 'deliver', 'v1.0.0', 'dev', 'ci')",
  );

  const applied = await migrateState(createDb(pool), SETS);
  // Only core migrations newer than 0.1.0 may apply (numbered 005 and up); none of the old four again.
  assert.deepEqual(
    applied.filter((a) => !/^core\/(0(0[5-9]|[1-9]\d)|[1-9]\d\d)_/.test(a)),
    [],
    `applied again: ${applied.join(', ')}`,
  );
  const rows = await tracked(pool);
  for (const m of [
    'core/001_init.sql',
    'core/002_operation_input.sql',
    'backups/001_backups.sql',
    'rollouts/001_rollouts.sql',
  ]) {
    assert.ok(rows.includes(m), `${m} is tracked`);
  }
  assert.ok(!rows.includes('core/003_backups.sql') && !rows.includes('core/004_rollouts.sql'));
  assert.equal((await pool.query("select id from backups where id = 'b1'")).rowCount, 1);
  assert.equal((await pool.query("select id from rollout_history where service = 'svc'")).rowCount, 1);
  assert.deepEqual(await migrateState(createDb(pool), SETS), []);

  // And a whole control plane started on it (every default module) applies none of them again either.
  const repo = await createFixtureRepo({ name: 'migrate-old' });
  const dataDir = await mkdtemp(join(tmpdir(), 'msp-data-'));
  const lines: string[] = [];
  const proxyPort = await findFreePort();
  const cp = await startControlPlane({
    repoDir: repo.dir,
    dataDir,
    port: await findFreePort(),
    databaseUrl: db.connectionString('admin', 'old'),
    reconcile: false,
    modules: defaultModules(),
    createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort }),
    log: (line) => lines.push(line),
  });
  try {
    assert.deepEqual(
      lines.filter((l) => /applied migrations.*((backups|rollouts)\/|core\/00[1-4])/.test(l)),
      [],
      'none of the old migrations applied at start',
    );
    assert.equal((await pool.query("select id from backups where id = 'b1'")).rowCount, 1);
    assert.equal((await pool.query("select id from rollout_history where service = 'svc'")).rowCount, 1);
    const history = await fetch(`${cp.url}/api/v1/rollouts/history?service=svc`, {
      headers: { authorization: `Bearer ${cp.adminToken}` },
    });
    assert.equal(history.status, 200);
    assert.match(await history.text(), /"version":"v1\.0\.0"/, 'the rollouts module reads its old rows');
  } finally {
    await cp.stop();
    await rm(repo.dir, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('two control planes migrating one database at once: each migration applied once, neither fails', async () => {
  const [a, b] = [poolOf('race'), poolOf('race')];
  const [x, y] = await Promise.all([migrateState(createDb(a), SETS), migrateState(createDb(b), SETS)]);
  const all = [...x, ...y].sort();
  assert.deepEqual(all, [...new Set(all)], 'no migration applied twice');
  assert.deepEqual(all, await tracked(a));
  assert.ok(x.length === 0 || y.length === 0, 'one of them found the work done');
});

test('a set with two migrations of one number is refused before anything runs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'msp-migrations-'));
  try {
    await writeFile(join(dir, '005_a.sql'), 'select 1;');
    await writeFile(join(dir, '005_b.sql'), 'select 1;');
    const set: MigrationSet = { module: 'twice', folder: pathToFileURL(dir + '/') };
    await assert.rejects(
      migrateState(createDb(poolOf('fresh')), [set]),
      /005_a\.sql and 005_b\.sql .* renumber/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('migrations are read from dist when no source checkout is beside it (an installed package)', async () => {
  const root = await mkdtemp(join(tmpdir(), 'msp-pkg-'));
  try {
    await mkdir(join(root, 'dist', 'x', 'migrations'), { recursive: true });
    const moduleUrl = pathToFileURL(join(root, 'dist', 'x', 'store.js')).href;
    assert.equal(
      migrationsBeside(moduleUrl).href,
      pathToFileURL(join(root, 'dist', 'x', 'migrations/')).href,
    );
    await mkdir(join(root, 'src', 'x', 'migrations'), { recursive: true });
    assert.equal(migrationsBeside(moduleUrl).href, pathToFileURL(join(root, 'src', 'x', 'migrations/')).href);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
