#!/usr/bin/env node
/**
 * Issues 4 and 12 benchmark: base backup and point-in-time restore, MSP vs pgBackRest vs pg_basebackup vs
 * tar, on one PostgreSQL 15 cluster with a pgbench database (scale 50) and a minute of pgbench writes. Run
 * as root from the repo root after `npx tsc -b`: `node bench/backup.mjs` (installs postgresql-15 and
 * pgbackrest with apt-get when missing). Prints a Markdown table for bench/RESULTS.md. The RPO after
 * kill -9 is measured by bench/rpo.mjs (the embedded PostgreSQL 17 MSP runs).
 *
 * `RESTORE_ONLY=1 node bench/backup.mjs` reruns only the restores against the cluster, backups and
 * target a previous full run left in BENCH_DIR (for profiling restore changes). The point-in-time restore
 * runs ROUNDS (3) times per tool, the order alternating, and reports each round and the medians: on a
 * shared VM one pair moves by ±30% from run to run.
 */
import { execSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import {
  createDirectoryRepository,
  restoreBaseBackup,
  takeBaseBackup,
  waitForRecovery,
  writeRecoveryConfig,
} from '../packages/runtime-local/dist/index.js';

const SCALE = Number(process.env.SCALE ?? 50);
const WRITE_SECONDS = Number(process.env.WRITE_SECONDS ?? 60);
const ROOT = process.env.BENCH_DIR ?? '/var/tmp/msp-bench';
const BIN = '/usr/lib/postgresql/15/bin';
const PORT = 55432;
const sh = (cmd, opts = {}) => execSync(cmd, { stdio: ['ignore', 'pipe', 'inherit'], ...opts }).toString();
const asPg = (cmd) => sh(`su postgres -s /bin/bash -c ${JSON.stringify(cmd)}`);
const du = (p) => Number(sh(`du -sb ${p}`).split('\t')[0]);
const mb = (b) => `${(b / 1024 / 1024).toFixed(0)} MB`;
const time = async (fn) => {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
};
const log = (m) => process.stderr.write(`[bench] ${m}\n`);

if (!existsSync(`${BIN}/postgres`) || !existsSync('/usr/bin/pgbackrest')) {
  // stdio inherited to show apt's progress: execSync then returns null, so not through sh().
  execSync('apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15 pgbackrest', {
    stdio: ['ignore', 2, 2], // apt's progress to stderr: stdout is the report
  });
  // Debian's package creates and starts a cluster of its own on 5432; the bench uses none of it.
  spawnSync('pg_ctlcluster', ['15', 'main', 'stop']);
}
const conn = { host: '127.0.0.1', port: PORT, user: 'postgres', database: 'postgres' };
/** A port nothing listens on now (the restored clusters', chosen per run: tests may hold fixed ones). */
const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
const MSP_PORT = await freePort();
let BR_PORT = await freePort();
while (BR_PORT === MSP_PORT) BR_PORT = await freePort();
const q = async (text, c = conn) => {
  const client = new pg.Client(c);
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
};
const archiveDir = `${ROOT}/archive`;
const repoDir = `${ROOT}/pgbackrest`;
const mspRepo = createDirectoryRepository(`${ROOT}/msp-repo`);
const stateFile = `${ROOT}/state.json`;
let state;
if (process.env.RESTORE_ONLY) {
  state = JSON.parse(readFileSync(stateFile, 'utf8'));
  for (const d of ['msp-restore', 'br-restore']) {
    spawnSync('su', ['postgres', '-s', '/bin/bash', '-c', `${BIN}/pg_ctl stop -D ${ROOT}/${d} -m immediate`]);
  }
} else {
  state = await setUp();
  writeFileSync(stateFile, JSON.stringify(state));
}
const { target, walSegments, walToReplay, results, dataBytes, manifest } = state;
/** Both tools restore from their incremental backup (taken before the target): the chain combined. */
const RESTORE_ID = 'bench-incr';
/** Point-in-time restore pairs (see below). */
const ROUNDS = Number(process.env.ROUNDS ?? 3);

/**
 * Before each timed backup: nothing left for autovacuum, nothing waiting for the archiver, no checkpoint in progress (one started by
 * pgbench's WAL volume would otherwise be finished by whichever tool comes first, at its expense) and a
 * cold page cache.
 */
async function settle() {
  // VACUUM now, or autovacuum would clean up after pgbench between two tools' backups, and the tool
  // that went first would have that much more WAL to replay to the same target (32 MB in one run).
  await q('VACUUM');
  await q('CHECKPOINT');
  // ... and the archiver has caught up (a backlog would make the first tool's backup wait for it).
  const wal = (await q('SELECT pg_walfile_name(pg_switch_wal()) AS w'))[0].w;
  for (;;) {
    const [a] = await q('SELECT last_archived_wal FROM pg_stat_archiver');
    if (a.last_archived_wal >= wal) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  sh('sync; echo 3 > /proc/sys/vm/drop_caches || true');
}

async function setUp() {
  spawnSync('su', ['postgres', '-s', '/bin/bash', '-c', `${BIN}/pg_ctl stop -D ${ROOT}/data -m immediate`]);
  rmSync(ROOT, { recursive: true, force: true });
  mkdirSync(ROOT, { recursive: true });
  sh(`chown postgres: ${ROOT}`);
  mkdirSync(archiveDir);
  mkdirSync(repoDir);
  sh(`chown postgres: ${archiveDir} ${repoDir}`);
  const archiveWal = join(process.cwd(), 'packages/runtime-local/dist/postgres/archive-wal.js');
  writeFileSync(
    '/etc/pgbackrest.conf',
    `[global]\nrepo1-path=${repoDir}\nprocess-max=2\nlog-level-console=warn\nstart-fast=y\n\n[bench]\npg1-path=${ROOT}/data\npg1-port=${PORT}\npg1-socket-path=/tmp\n`,
  );
  asPg(`${BIN}/initdb -D ${ROOT}/data --data-checksums -U postgres >/dev/null`);
  writeFileSync(
    `${ROOT}/data/postgresql.auto.conf`,
    [
      `port = ${PORT}`,
      `unix_socket_directories = '/tmp'`,
      `listen_addresses = '127.0.0.1'`,
      'wal_level = replica',
      'archive_mode = on',
      'archive_timeout = 60',
      `archive_command = '${process.execPath} ${archiveWal} %p %f ${archiveDir} && pgbackrest --stanza=bench archive-push %p'`,
      "max_wal_size = '1GB'",
      "shared_buffers = '256MB'",
    ].join('\n') + '\n',
  );
  writeFileSync(
    `${ROOT}/data/pg_hba.conf`,
    'local all all trust\nlocal replication all trust\nhost all all 127.0.0.1/32 trust\n',
  );
  sh(`chown -R postgres: ${ROOT}/data`);
  asPg(`${BIN}/pg_ctl start -D ${ROOT}/data -l ${ROOT}/pg.log -w >/dev/null`);
  asPg('pgbackrest --stanza=bench stanza-create');
  log(`pgbench -i -s ${SCALE}`);
  asPg(`${BIN}/pgbench -h /tmp -p ${PORT} -i -s ${SCALE} -q postgres 2>/dev/null`);
  log(`pgbench writes for ${WRITE_SECONDS} s`);
  asPg(`${BIN}/pgbench -h /tmp -p ${PORT} -c 4 -j 2 -T ${WRITE_SECONDS} postgres >/dev/null 2>&1`);
  const dataBytes = du(`${ROOT}/data/base`);
  const results = [];

  // ---- base backups
  await settle();
  let manifest;
  const tMsp = await time(async () => {
    manifest = await takeBaseBackup({
      repository: mspRepo,
      id: 'bench',
      connection: conn,
      dataDir: `${ROOT}/data`,
    });
  });
  results.push(['MSP base backup (gzip 1, parallel)', tMsp, du(`${ROOT}/msp-repo`)]);
  log(`msp ${tMsp.toFixed(1)} s`);
  await settle();
  const tBr = await time(async () => asPg('pgbackrest --stanza=bench --type=full backup'));
  results.push(['pgBackRest full backup (process-max=2, default gz)', tBr, du(`${repoDir}/backup`)]);
  log(`pgbackrest ${tBr.toFixed(1)} s`);
  await settle();
  const tBb = await time(async () =>
    asPg(`${BIN}/pg_basebackup -h /tmp -p ${PORT} -Ft -z -c fast -D ${ROOT}/basebackup`),
  );
  results.push(['pg_basebackup -Ft -z -c fast', tBb, du(`${ROOT}/basebackup`)]);
  log(`pg_basebackup ${tBb.toFixed(1)} s`);
  sh('sync; echo 3 > /proc/sys/vm/drop_caches || true');
  const tTar = await time(async () => sh(`tar -cf ${ROOT}/data.tar -C ${ROOT}/data --exclude=pg_wal/* .`));
  results.push(['plain tar of the data directory (no compression)', tTar, statSync(`${ROOT}/data.tar`).size]);
  rmSync(`${ROOT}/data.tar`);
  rmSync(`${ROOT}/basebackup`, { recursive: true, force: true });

  // ---- incremental backups after WRITE_SECONDS more of writes (restores below start from them)
  log(`pgbench writes for ${WRITE_SECONDS} s before the incremental backups`);
  asPg(`${BIN}/pgbench -h /tmp -p ${PORT} -c 4 -j 2 -T ${WRITE_SECONDS} postgres >/dev/null 2>&1`);
  await settle();
  let mspIncr;
  const tMspIncr = await time(async () => {
    mspIncr = await takeBaseBackup({
      repository: mspRepo,
      id: 'bench-incr',
      connection: conn,
      dataDir: `${ROOT}/data`,
      incrementalOf: manifest,
    });
  });
  results.push([
    `MSP incremental backup after ${WRITE_SECONDS} s of writes`,
    tMspIncr,
    du(`${ROOT}/msp-repo/base/bench-incr`),
  ]);
  log(`msp incremental ${tMspIncr.toFixed(1)} s`);
  await settle();
  const tBrIncr = await time(async () => asPg('pgbackrest --stanza=bench --type=incr backup'));
  const incrDir = readdirSync(`${repoDir}/backup/bench`).find((n) => n.endsWith('I'));
  results.push([
    `pgBackRest --type=incr backup after ${WRITE_SECONDS} s of writes`,
    tBrIncr,
    du(`${repoDir}/backup/bench/${incrDir}`),
  ]);
  log(`pgbackrest incremental ${tBrIncr.toFixed(1)} s`);

  // ---- PITR target: more writes, the time, more writes, everything archived
  await q('CREATE TABLE marker (id serial, at timestamptz default clock_timestamp())');
  await q('INSERT INTO marker DEFAULT VALUES');
  asPg(`${BIN}/pgbench -h /tmp -p ${PORT} -c 2 -T 20 -N postgres >/dev/null 2>&1`);
  const target = (await q('SELECT clock_timestamp() AS t'))[0].t.toISOString();
  const targetLsn = (await q('SELECT pg_current_wal_lsn()::text AS l'))[0].l;
  const brIncrInfo = JSON.parse(asPg('pgbackrest --stanza=bench --output=json info'))[0].backup.at(-1);
  // How much WAL each restore replays to reach the target: from its backup's start to the target.
  const walToReplay = {
    msp: Number((await q(`SELECT pg_wal_lsn_diff('${targetLsn}', '${mspIncr.startLsn}')::bigint AS d`))[0].d),
    br: Number(
      (await q(`SELECT pg_wal_lsn_diff('${targetLsn}', '${brIncrInfo.lsn.start}')::bigint AS d`))[0].d,
    ),
  };
  await new Promise((r) => setTimeout(r, 50));
  await q('INSERT INTO marker DEFAULT VALUES');
  asPg(`${BIN}/pgbench -h /tmp -p ${PORT} -c 2 -T 10 -N postgres >/dev/null 2>&1`);
  const wal = (await q('SELECT pg_walfile_name(pg_switch_wal()) AS w'))[0].w;
  for (;;) {
    const [a] = await q('SELECT last_archived_wal FROM pg_stat_archiver');
    if (a.last_archived_wal >= wal) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const walSegments = readdirSync(archiveDir).filter((f) => f.endsWith('.gz')).length;
  asPg(`${BIN}/pg_ctl stop -D ${ROOT}/data -m fast >/dev/null`);
  return {
    target,
    walSegments,
    walToReplay,
    results,
    dataBytes,
    manifest: {
      files: manifest.files.length,
      rawBytes: manifest.rawBytes,
      storedBytes: manifest.storedBytes,
    },
  };
}

const startAndWait = async (dir, port) => {
  asPg(
    `${BIN}/pg_ctl start -D ${dir} -o '-p ${port} -c archive_mode=off' -l ${dir}.log -w -t 600 >/dev/null`,
  );
  const c = { ...conn, port };
  await waitForRecovery({
    inRecovery: async () => (await q('SELECT pg_is_in_recovery() AS r', c))[0].r,
    isRunning: async () => existsSync(`${dir}/postmaster.pid`),
    logFile: `${dir}.log`,
  });
  const n = (await q('SELECT count(*)::int AS n FROM marker', c))[0].n;
  asPg(`${BIN}/pg_ctl stop -D ${dir} -m immediate >/dev/null`);
  return n;
};
const pgUser = { uid: Number(sh('id -u postgres')), gid: Number(sh('id -g postgres')) };
/**
 * One point-in-time restore by MSP (in place with `delta`): [total, files] seconds, the marker rows at the
 * target and what a delta restore rewrote.
 */
async function mspPitr({ delta = false } = {}) {
  let rows;
  let files = 0;
  let rewritten;
  const total = await time(async () => {
    files = await time(async () => {
      const m = await restoreBaseBackup({
        repository: mspRepo,
        id: RESTORE_ID,
        targetDir: `${ROOT}/msp-restore`,
        owner: pgUser,
        ...(delta ? { delta: true, onDelta: (d) => (rewritten = d) } : {}),
      });
      await writeRecoveryConfig({
        dataDir: `${ROOT}/msp-restore`,
        archiveDir,
        target: { kind: 'time', time: target },
        owner: pgUser,
        fromWal: m.startWal,
      });
    });
    rows = await startAndWait(`${ROOT}/msp-restore`, MSP_PORT);
  });
  return { total, files, rows, rewritten };
}
/** The same by pgBackRest. */
async function brPitr() {
  let rows;
  let files = 0;
  const total = await time(async () => {
    files = await time(async () => {
      rmSync(`${ROOT}/br-restore`, { recursive: true, force: true });
      mkdirSync(`${ROOT}/br-restore`, { mode: 0o700 });
      sh(`chown postgres: ${ROOT}/br-restore`);
      asPg(
        `pgbackrest --stanza=bench --pg1-path=${ROOT}/br-restore --type=time "--target=${target.replace('T', ' ').replace('Z', '+00')}" --target-action=promote restore`,
      );
    });
    rows = await startAndWait(`${ROOT}/br-restore`, BR_PORT);
  });
  return { total, files, rows };
}
// ROUNDS pairs, the order alternating (the first restore after the backups runs on a machine still
// settling), cold page cache before each; reported per round and as the median of each tool.
const rounds = [];
for (let r = 0; r < ROUNDS; r++) {
  const round = {};
  for (const tool of r % 2 === 0 ? ['msp', 'br'] : ['br', 'msp']) {
    sh('sync; echo 3 > /proc/sys/vm/drop_caches || true');
    round[tool] = tool === 'msp' ? await mspPitr() : await brPitr();
    const t = round[tool];
    log(
      `round ${r + 1}: ${tool} restore ${t.total.toFixed(1)} s (files ${t.files.toFixed(1)} s), marker rows ${t.rows}`,
    );
  }
  rounds.push(round);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mspMedian = median(rounds.map((r) => r.msp.total));
const brMedian = median(rounds.map((r) => r.br.total));
const rowsOk = rounds.every((r) => r.msp.rows === 1 && r.br.rows === 1);

// ---- delta restore in place: both restored clusters run DELTA_WRITE_SECONDS of pgbench writes (at the
// same time, so under the same load), stop, and are restored over in place to the same target again.
const DELTA_WRITE_SECONDS = Number(process.env.DELTA_WRITE_SECONDS ?? 60);
const runAsPg = (cmd) =>
  new Promise((resolve, reject) => {
    const child = spawn('su', ['postgres', '-s', '/bin/bash', '-c', cmd], { stdio: 'ignore' });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
for (const [d, port] of [
  ['msp-restore', MSP_PORT],
  ['br-restore', BR_PORT],
]) {
  asPg(
    `${BIN}/pg_ctl start -D ${ROOT}/${d} -o '-p ${port} -c archive_mode=off' -l ${ROOT}/${d}.log -w >/dev/null`,
  );
}
log(`pgbench writes on both restored clusters for ${DELTA_WRITE_SECONDS} s`);
await Promise.all(
  [MSP_PORT, BR_PORT].map((port) =>
    runAsPg(`${BIN}/pgbench -h /tmp -p ${port} -c 2 -T ${DELTA_WRITE_SECONDS} -N postgres >/dev/null 2>&1`),
  ),
);
for (const d of ['msp-restore', 'br-restore']) asPg(`${BIN}/pg_ctl stop -D ${ROOT}/${d} -m fast >/dev/null`);
sh('sync; echo 3 > /proc/sys/vm/drop_caches || true');
const { total: tMspDelta, rows: mspDeltaRows, rewritten: mspDelta } = await mspPitr({ delta: true });
log(`msp delta restore ${tMspDelta.toFixed(1)} s, ${JSON.stringify(mspDelta)}, marker rows ${mspDeltaRows}`);
sh('sync; echo 3 > /proc/sys/vm/drop_caches || true');
let brDeltaRows;
const tBrDelta = await time(async () => {
  asPg(
    `pgbackrest --stanza=bench --pg1-path=${ROOT}/br-restore --delta --type=time "--target=${target.replace('T', ' ').replace('Z', '+00')}" --target-action=promote restore`,
  );
  brDeltaRows = await startAndWait(`${ROOT}/br-restore`, BR_PORT);
});
log(`pgbackrest delta restore ${tBrDelta.toFixed(1)} s, marker rows ${brDeltaRows}`);

// ---- report
const cpu = cpus()[0]?.model ?? '?';
const lines = [
  `Machine: ${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, shared with other work; PostgreSQL 15 (Debian), pgBackRest ${sh('pgbackrest version').trim()}, Node ${process.version}.`,
  `Data: pgbench scale ${SCALE} (${mb(dataBytes)} in base/), ${WRITE_SECONDS} s of pgbench writes; page cache dropped before each run.`,
  `Command: \`node bench/backup.mjs\` (SCALE=${SCALE} WRITE_SECONDS=${WRITE_SECONDS}).`,
  '',
  '| base backup | wall time | size |',
  '|---|---|---|',
  ...results.map(([n, t, s]) => `| ${n} | ${t.toFixed(1)} s | ${mb(s)} |`),
  `| ratios MSP / pgBackRest: full backup ${(results[0][1] / results[1][1]).toFixed(2)}×, incremental backup ${(results[4][1] / results[5][1]).toFixed(2)}× | | |`,
  '',
  `| restore to a point in time from the incremental backups (${walSegments} WAL segments archived), ${ROUNDS} rounds, order alternating | MSP: restore + recovery + promote | pgBackRest restore --type=time + recovery + promote | ratio |`,
  '|---|---|---|---|',
  ...rounds.map(
    (r, i) =>
      `| round ${i + 1} (${i % 2 === 0 ? 'MSP' : 'pgBackRest'} first) | ${r.msp.total.toFixed(1)} s (files ${r.msp.files.toFixed(1)} s) | ${r.br.total.toFixed(1)} s (files ${r.br.files.toFixed(1)} s) | ${(r.msp.total / r.br.total).toFixed(2)}× |`,
  ),
  `| **median** (marker rows at the target: ${rowsOk ? 'exactly 1 in every restore' : 'NOT 1 in some restore'}) | ${mspMedian.toFixed(1)} s | ${brMedian.toFixed(1)} s | **${(mspMedian / brMedian).toFixed(2)}×** |`,
  '',
  `WAL from each incremental backup's start to the target: MSP ${mb(walToReplay?.msp ?? NaN)}, pgBackRest ${mb(walToReplay?.br ?? NaN)}.`,
  '',
  `| delta restore in place after ${DELTA_WRITE_SECONDS} s of writes, same target | wall time | marker rows (expect 1) |`,
  '|---|---|---|',
  `| MSP: delta restore (${mspDelta.filesRewritten} of ${mspDelta.filesChecked} files, ${mb(mspDelta.bytesRewritten)} rewritten) + recovery + promote | ${tMspDelta.toFixed(1)} s | ${mspDeltaRows} |`,
  `| pgBackRest restore --delta --type=time + recovery + promote | ${tBrDelta.toFixed(1)} s | ${brDeltaRows} |`,
  `| ratio MSP / pgBackRest | ${(tMspDelta / tBrDelta).toFixed(2)}× | |`,
  '',
  `MSP manifest: ${manifest.files} files, ${mb(manifest.rawBytes)} raw → ${mb(manifest.storedBytes)} stored. Load average at the end: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}.`,
];
console.log(lines.join('\n'));
