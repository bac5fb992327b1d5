#!/usr/bin/env node
// On-demand base backup of a small cluster (issue 8: "a 4 MB database takes 7 s"): MSP's takeBaseBackup,
// N times. (The embedded PostgreSQL ships no pg_basebackup, and Debian's 15 cannot back up a 17 server,
// so bench/backup.mjs is where MSP meets its peers.) Run after `npm run build`:
//   node bench/base-backup-small.mjs [runs=5]
// Uses the embedded PostgreSQL 17 (its own pg_basebackup); writes nothing outside a temp folder.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createDirectoryRepository, takeBaseBackup } from '../packages/runtime-local/dist/index.js';
import { startTestCluster } from '../packages/runtime-local/dist/testing.js';

const runs = Number(process.argv[2] ?? 5);
const dir = await mkdtemp(join(tmpdir(), 'msp-bench-small-'));
await chmod(dir, 0o777);
const tc = await startTestCluster({ databases: ['app'] });
try {
  await tc.cluster.query(
    'CREATE TABLE t AS SELECT g, md5(g::text) AS h FROM generate_series(1, 60000) g',
    [],
    'app',
  );
  const repository = createDirectoryRepository(join(dir, 'repo'));
  const conn = tc.cluster.connectionConfig('admin', 'postgres');
  const time = async (fn) => {
    const started = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  const msp = [];
  for (let i = 0; i < runs; i++) {
    msp.push(
      await time(() =>
        takeBaseBackup({
          repository,
          id: `b${i}`,
          connection: conn,
          dataDir: join(tc.cluster.options.dir, 'data'),
        }),
      ),
    );
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}`,
  );
  console.log(
    `MSP takeBaseBackup (fast checkpoint): median ${median(msp).toFixed(2)} s  [${msp.map((x) => x.toFixed(2)).join(', ')}]`,
  );
} finally {
  await tc.cleanup();
  await rm(dir, { recursive: true, force: true });
}
