#!/usr/bin/env node
/**
 * Issues 4 and 12 benchmark: measured RPO of an MSP cluster: MODE=archive (default: archive_command only,
 * archive_timeout 60 s), MODE=stream (plus the WAL receiver), MODE=sync (the receiver as synchronous
 * standby); also the commit rate of one client in that mode (the cost of synchronous mode).
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
  clearRecoverySql,
  createDirectoryRepository,
  createPostgresCluster,
  findFreePort,
  postgresOsUser,
  removeWalSpool,
  restoreBaseBackup,
  startWalReceiver,
  takeBaseBackup,
  waitForRecovery,
  writeRecoveryConfig,
} from '../packages/runtime-local/dist/index.js';
import { startTestCluster } from '../packages/runtime-local/dist/testing.js';

const WRITE_SECONDS = Number(process.env.WRITE_SECONDS ?? 150);
/** archive: archive_command only; stream: the WAL receiver too; sync: the receiver as synchronous standby. */
const MODE = process.env.MODE ?? 'archive';
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
  let receiver;
  if (MODE !== 'archive') {
    receiver = await startWalReceiver({
      connection: source.connectionConfig('admin', 'postgres'),
      archiveDir: source.options.archiveDir,
      slot: 'msp_wal_receiver',
    });
    if (MODE === 'sync') {
      await source.query(`ALTER SYSTEM SET synchronous_standby_names = '"msp_wal_receiver"'`);
      await source.query('SELECT pg_reload_conf()');
      while ((await source.query('SELECT sync_state AS s FROM pg_stat_replication'))[0]?.s !== 'sync') {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  const writer = new pg.Client(source.connectionConfig('admin', 'app'));
  await writer.connect();
  writer.on('error', () => undefined);
  // Commit rate of one client inserting one row per transaction as fast as it can (the cost of the mode).
  let commits = 0;
  const rateUntil = Date.now() + 5000;
  while (Date.now() < rateUntil) {
    await writer.query('INSERT INTO rpo DEFAULT VALUES');
    commits++;
  }
  const commitsPerSecond = commits / 5;
  log(`${MODE}: ${commitsPerSecond.toFixed(0)} commits/s (one client, one row per commit)`);
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
  await receiver?.ended.catch(() => undefined);
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
  for (const sql of await clearRecoverySql(join(clusterDir, 'data'))) await restored.query(sql);
  await removeWalSpool(join(clusterDir, 'data'));
  const [row] = await restored.query('SELECT coalesce(max(id), 0) AS id, max(at) AS at FROM rpo', [], 'app');
  const lostRows = lastCommitted - Number(row.id);
  const lostSeconds = row.at ? (lastCommittedAt - new Date(row.at).getTime()) / 1000 : WRITE_SECONDS;
  const line =
    `| MSP cluster (PostgreSQL ${(await restored.query('SHOW server_version'))[0].server_version}), ${MODE === 'archive' ? 'archive_command only (archive_timeout 60 s)' : MODE === 'stream' ? 'WAL receiver streaming (asynchronous)' : 'WAL receiver as synchronous standby'}, ` +
    `one insert every 100 ms for ${WRITE_SECONDS} s, kill -9 | ${lastCommitted} | ${row.id} | ${lostRows} | ${lostSeconds.toFixed(1)} s | ${commitsPerSecond.toFixed(0)} |`;
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
        '| setup | last committed id | restored up to id | rows lost | writes lost | commits/s, one client |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
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
