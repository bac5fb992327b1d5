#!/usr/bin/env node
/**
 * Issue 12 item 5: is a faster codec than gzip level 1 worth it for base backups? Compresses a real
 * PGDATA (the embedded PostgreSQL, a pgbench_accounts-like table of ROWS rows, checkpointed) in the base
 * backup's 8 MiB chunks, one core, with gzip-1 (node:zlib, what backups use) and whichever of lz4-napi /
 * zstd-napi / @mongodb-js/zstd load from CODEC_MODULES (a node_modules dir; none are dependencies of MSP).
 * Run from the repo root after `npx tsc -b`: `CODEC_MODULES=/tmp/codec-eval/node_modules node bench/codecs.mjs`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { startTestCluster } from '../packages/runtime-local/dist/testing.js';

const ROWS = Number(process.env.ROWS ?? 2_000_000);
const CHUNK = 8 * 1024 * 1024;
const codecs = { 'gzip-1': (b) => gzipSync(b, { level: 1 }) };
if (process.env.CODEC_MODULES) {
  const req = createRequire(join(process.env.CODEC_MODULES, 'x.js'));
  const tryLoad = (name, make) => {
    try {
      Object.assign(codecs, make(req(name)));
    } catch (error) {
      console.error(`${name}: not loadable (${error.message.split('\n')[0]})`);
    }
  };
  tryLoad('lz4-napi', (m) => ({ lz4: (b) => m.compressSync(b) }));
  tryLoad('zstd-napi', (m) => ({ 'zstd-1': (b) => m.compress(b, { compressionLevel: 1 }) }));
  tryLoad('@mongodb-js/zstd', () => ({})); // async only; reported when it does not load
}

const tc = await startTestCluster({ databases: ['bench'], name: 'codecs' });
try {
  await tc.cluster.query(
    `CREATE TABLE accounts AS SELECT i AS aid, i / 100000 + 1 AS bid, 0 AS abalance, repeat(' ', 84)::char(84) AS filler
       FROM generate_series(1, ${ROWS}) i`,
    [],
    'bench',
  );
  await tc.cluster.query('ALTER TABLE accounts ADD PRIMARY KEY (aid)', [], 'bench');
  await tc.cluster.query('CHECKPOINT');
  const files = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.push(p);
    }
  };
  walk(join(tc.cluster.options.dir, 'data', 'base'));
  const chunks = [];
  for (const f of files) {
    const data = readFileSync(f);
    for (let o = 0; o < data.length; o += CHUNK) chunks.push(data.subarray(o, o + CHUNK));
  }
  const total = chunks.reduce((n, c) => n + c.length, 0);
  console.log(
    `${(total / 2 ** 20).toFixed(0)} MiB of PGDATA/base, ${chunks.length} chunks, ${cpus().length} cores (shared)\n`,
  );
  console.log('| codec | compressed | ratio | MiB/s (one core) |\n|---|---|---|---|');
  for (const [name, compress] of Object.entries(codecs)) {
    let out = 0;
    const t0 = performance.now();
    for (const c of chunks) out += compress(c).length;
    const s = (performance.now() - t0) / 1000;
    console.log(
      `| ${name} | ${(out / 2 ** 20).toFixed(1)} MiB | ${(total / out).toFixed(2)} | ${(total / 2 ** 20 / s).toFixed(0)} |`,
    );
  }
} finally {
  await tc.cleanup();
}
