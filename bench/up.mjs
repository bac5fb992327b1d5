#!/usr/bin/env node
// Issue 3 benchmark: time from `msp up` to every example deployment healthy, and idle memory of the control
// plane and of one deployment (its service processes + its PostgreSQL), measured from /proc.
//
//   npm run build && node bench/up.mjs [--runs 3] [--no-write]
//
// Each run starts `msp up` on a fresh copy of examples/platform's data dir (first start: initdb of the state
// database and of every cluster) and, with --warm, a second start on the same data dir (clusters exist).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';

const root = fileURLToPath(new URL('..', import.meta.url));
const repo = join(root, 'examples', 'platform');
const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, 'no-write': { type: 'boolean', default: false } },
});
const runs = Number(values.runs);

function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function allPids() {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** Processes whose environment has MSP_DEPLOYMENT=<key> (service instances). */
function servicePids(key) {
  return allPids().filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`MSP_DEPLOYMENT=${key}`);
    } catch {
      return false;
    }
  });
}

/** The postmaster of a cluster data dir and all its children (backends, checkpointer, WAL writer...). */
function postgresPids(dataDir) {
  const pids = allPids();
  const postmaster = pids.find((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv[0]?.endsWith('/postgres') && argv.includes(dataDir);
    } catch {
      return false;
    }
  });
  if (!postmaster) return [];
  return [
    postmaster,
    ...pids.filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(postmaster);
      } catch {
        return false;
      }
    }),
  ];
}

async function oneRun(fresh) {
  if (fresh) rmSync(join(repo, '.msp'), { recursive: true, force: true });
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [join(root, 'packages/cli/bin/msp.js'), 'up', '--repo', repo, '--timeout', '10m'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const healthy = await new Promise((resolve, reject) => {
    const onData = (d) => {
      out += d;
      const m = /all (\d+) deployments healthy/.exec(out);
      if (m) resolve({ ms: performance.now() - started, count: Number(m[1]) });
      if (/deployment\(s\) not healthy/.test(out)) reject(new Error(`not all healthy:\n${out}`));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`msp up exited ${code}:\n${out}`)));
  });
  // Let it idle, then measure memory.
  await new Promise((r) => setTimeout(r, 10_000));
  const controlPlaneKb =
    rssKb(child.pid) + postgresPids(join(repo, '.msp', 'state', 'data')).reduce((a, p) => a + rssKb(p), 0);
  const cpOnlyKb = rssKb(child.pid);
  const key = 'releaseregistry/dev';
  const svcKb = servicePids(key).reduce((a, p) => a + rssKb(p), 0);
  const pgKb = postgresPids(join(repo, '.msp', 'clusters', 'releaseregistry--dev', 'data')).reduce(
    (a, p) => a + rssKb(p),
    0,
  );
  child.kill('SIGINT');
  await new Promise((r) => child.once('exit', r));
  return { ...healthy, cpOnlyKb, controlPlaneKb, svcKb, pgKb };
}

const results = [];
for (let i = 0; i < runs; i++) {
  const cold = await oneRun(true);
  const warm = await oneRun(false);
  results.push({ cold, warm });
  console.log(
    `run ${i + 1}: cold ${(cold.ms / 1000).toFixed(1)} s, warm ${(warm.ms / 1000).toFixed(1)} s, ${cold.count} deployments`,
  );
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (kb) => (kb / 1024).toFixed(0);
const r = {
  cold: median(results.map((x) => x.cold.ms)),
  warm: median(results.map((x) => x.warm.ms)),
  cp: median(results.map((x) => x.warm.cpOnlyKb)),
  cpState: median(results.map((x) => x.warm.controlPlaneKb)),
  svc: median(results.map((x) => x.warm.svcKb)),
  pg: median(results.map((x) => x.warm.pgKb)),
  count: results[0].cold.count,
};
const table = [
  `| measure | median of ${runs} |`,
  '| --- | ---: |',
  `| \`msp up\` → all ${r.count} example deployments healthy, first start (initdb of the state DB and ${r.count} clusters) | ${(r.cold / 1000).toFixed(1)} s |`,
  `| \`msp up\` → all healthy, restart on an existing data dir | ${(r.warm / 1000).toFixed(1)} s |`,
  `| idle RSS: control plane process (API, proxy, supervisor, job queue) | ${mb(r.cp)} MB |`,
  `| idle RSS: control plane + its embedded state PostgreSQL | ${mb(r.cpState)} MB |`,
  `| idle RSS: one deployment (releaseregistry/dev): service process | ${mb(r.svc)} MB |`,
  `| idle RSS: one deployment (releaseregistry/dev): its PostgreSQL (postmaster + children) | ${mb(r.pg)} MB |`,
].join('\n');
console.log('\n' + table);
if (!values['no-write']) {
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, 1-min load at end ${loadavg()[0].toFixed(2)}`;
  const section = `\n## Issue 3: \`msp up\` time and idle memory\n\nProduced by \`node bench/up.mjs --runs ${runs}\` on ${new Date().toISOString().slice(0, 10)}. Machine: ${machine}. RSS counts shared pages once per process, so sums over-count shared libraries.\n\n${table}\n`;
  const file = join(root, 'bench', 'RESULTS.md');
  if (existsSync(file)) appendFileSync(file, section);
  else writeFileSync(file, `# Benchmark results\n${section}`);
}
