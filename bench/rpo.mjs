#!/usr/bin/env node
/**
 * Issue 4 benchmark: measured RPO of an MSP cluster with the default archive_timeout (60 s).
 *
 * A real MSP PostgreSQL cluster (the embedded binaries, WAL archived by MSP's archive command), an MSP base
 * backup, then one committed insert every 100 ms for WRITE_SECONDS (default 150 s, more than two
 * archive_timeouts), `kill -9` of the postmaster, and a restore of the latest archived state into a new
 * cluster: how many committed rows, and how many seconds of writes, the archive lost.
 *
 *   npx tsc -b && node bench/rpo.mjs      (appends to bench/RESULTS.md unless --no-write)
 */
import { appendFileSync } from 'node:fs';
import { mkdir, mkdtemp, chmod, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  CLEAR_RECOVERY_SQL,
  createDirectoryRepository,
  createPostgresCluster,
  findFreePort,
  postgresOsUser,
  removeWalSpool,
  restoreBaseBackup,
  takeBaseBackup,
  waitForRecovery,
  writeRecoveryConfig,
} from '../packages/runtime-local/dist/index.js';
import { startTestCluster } from '../packages/runtime-local/dist/testing.js';

const WRITE_SECONDS = Number(process.env.WRITE_SECONDS ?? 150);
const log = (m) => process.stderr.write(`[rpo] ${m}\n`);

// A production-like cluster: fsync on, MSP's default archive_timeout (60 s).
const tc = await startTestCluster({ databases: ['app'], name: 'rpo' });
const dir = await mkdtemp(join(tmpdir(), 'msp-rpo-'));
await chmod(dir, 0o711);
let restored;
try {
  const source = tc.cluster;
  const repository = createDirectoryRepository(join(dir, 'repo'));
  await source.query(
    'CREATE TABLE rpo (id serial primary key, at timestamptz default clock_timestamp())',
    [],
    'app',
  );
  await takeBaseBackup({
    repository,
    id: 'rpo',
    connection: source.connectionConfig('admin', 'postgres'),
    dataDir: join(source.options.dir, 'data'),
  });
  const writer = new pg.Client(source.connectionConfig('admin', 'app'));
  await writer.connect();
  writer.on('error', () => undefined);
  let lastCommitted = 0;
  let lastCommittedAt = 0;
  log(`writing one row every 100 ms for ${WRITE_SECONDS} s`);
  const until = Date.now() + WRITE_SECONDS * 1000;
  while (Date.now() < until) {
    lastCommitted = (await writer.query('INSERT INTO rpo DEFAULT VALUES RETURNING id')).rows[0].id;
    lastCommittedAt = Date.now();
    await new Promise((r) => setTimeout(r, 100));
  }
  process.kill(await source.pid(), 'SIGKILL');
  await writer.end().catch(() => undefined);
  log(`killed after id ${lastCommitted}; restoring the latest archived state`);

  const user = await postgresOsUser();
  const owner = user.switchUser ? { uid: user.uid, gid: user.gid } : undefined;
  const clusterDir = join(dir, 'restored');
  await mkdir(clusterDir, { recursive: true, mode: 0o711 });
  restored = createPostgresCluster({
    ...source.options,
    name: 'rpo-restored',
    dir: clusterDir,
    port: await findFreePort(),
    archiveDir: join(dir, 'restored-archive'),
  });
  await restoreBaseBackup({
    repository,
    id: 'rpo',
    targetDir: join(clusterDir, 'data'),
    ...(owner ? { owner } : {}),
  });
  await restored.configure();
  await writeRecoveryConfig({
    dataDir: join(clusterDir, 'data'),
    archiveDir: source.options.archiveDir,
    target: { kind: 'latest' },
    ...(owner ? { owner } : {}),
  });
  await restored.start();
  await waitForRecovery({
    inRecovery: async () => (await restored.query('SELECT pg_is_in_recovery() AS r'))[0].r,
    isRunning: () => restored.isRunning(),
    logFile: join(clusterDir, 'run', 'postgres.log'),
  });
  for (const sql of CLEAR_RECOVERY_SQL) await restored.query(sql);
  await removeWalSpool(join(clusterDir, 'data'));
  const [row] = await restored.query('SELECT coalesce(max(id), 0) AS id, max(at) AS at FROM rpo', [], 'app');
  const lostRows = lastCommitted - Number(row.id);
  const lostSeconds = row.at ? (lastCommittedAt - new Date(row.at).getTime()) / 1000 : WRITE_SECONDS;
  const line =
    `| MSP cluster (PostgreSQL ${(await restored.query('SHOW server_version'))[0].server_version}), archive_timeout 60 s, ` +
    `one insert every 100 ms for ${WRITE_SECONDS} s, kill -9 | ${lastCommitted} | ${row.id} | ${lostRows} | ${lostSeconds.toFixed(1)} s |`;
  console.log(line);
  if (!process.argv.includes('--no-write')) {
    const file = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
    appendFileSync(
      file,
      [
        '',
        `### Measured RPO (${new Date().toISOString().slice(0, 10)}, \`node bench/rpo.mjs\`)`,
        '',
        `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}.`,
        'Newest committed row lost: restore of the latest archived state after `kill -9` of the server.',
        '',
        '| setup | last committed id | restored up to id | rows lost | writes lost |',
        '| --- | ---: | ---: | ---: | ---: |',
        line,
        '',
      ].join('\n'),
    );
  }
} finally {
  await restored?.stop('immediate').catch(() => undefined);
  await tc.cleanup();
  await rm(dir, { recursive: true, force: true });
}
