#!/usr/bin/env node
// Issue 14 benchmark: `msp generate` (kubernetes and gcp) on the synthetic repo of bench/handbook.mjs (200
// services, 400 managed instances), next to the handbook generation of the same repo in the same run: wall
// time and peak RSS, median of N runs (default 5), each a new process after one warm-up run. Goal: generation
// ≤ 2 × the handbook time. Run from the repository root after `npm run build`: `node bench/generate.mjs [--runs N]`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSTANCES, SERVICES, writeRepo } from './synthetic-repo.mjs';

const root = new URL('..', import.meta.url).pathname;
const msp = join(root, 'packages/cli/bin/msp.js');
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 5;
if (!existsSync(join(root, 'packages/cli/dist/main.js'))) {
  console.error('Build first: npm run build');
  process.exit(1);
}
const hasTime = existsSync('/usr/bin/time');

function run(cmdArgs) {
  const start = process.hrtime.bigint();
  const result = hasTime
    ? spawnSync('/usr/bin/time', ['-v', process.execPath, msp, ...cmdArgs], { encoding: 'utf8', cwd: root })
    : spawnSync(process.execPath, [msp, ...cmdArgs], { encoding: 'utf8', cwd: root });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) {
    console.error(result.stdout, result.stderr);
    throw new Error(`msp ${cmdArgs.join(' ')} exited ${result.status}`);
  }
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr ?? '');
  return { ms, rssKB: m ? Number(m[1]) : undefined };
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
function repeat(label, cmdArgs, before = () => undefined) {
  before();
  run(cmdArgs);
  const samples = Array.from({ length: runs }, () => (before(), run(cmdArgs)));
  return {
    label,
    median: median(samples.map((s) => s.ms)),
    min: Math.min(...samples.map((s) => s.ms)),
    max: Math.max(...samples.map((s) => s.ms)),
    rss: samples[0].rssKB === undefined ? undefined : median(samples.map((s) => s.rssKB)),
  };
}
const countFiles = (dir) =>
  readdirSync(dir).reduce(
    (n, f) => n + (statSync(join(dir, f)).isDirectory() ? countFiles(join(dir, f)) : 1),
    0,
  );

const loadBefore = loadavg()[0].toFixed(2);
const work = mkdtempSync(join(tmpdir(), 'msp-bench-generate-'));
try {
  writeRepo(work);
  const mspYaml = join(work, 'msp.yaml');
  const original = readFileSync(mspYaml, 'utf8');
  const onRuntime = (runtime) => () =>
    writeFileSync(mspYaml, original.replace(/(- id: (dev|prod)\n)/g, `$1    runtime: ${runtime}\n`));
  const out = (name) => join(work, 'out', name);
  const fresh = (runtime, name) => () => {
    onRuntime(runtime)();
    rmSync(out(name), { recursive: true, force: true });
  };
  const rows = [
    repeat('handbook: `msp operations generate-handbook-pages`', [
      'operations',
      'generate-handbook-pages',
      '--repo',
      work,
      '--out',
      out('docs'),
      '--date',
      '2026-01-01T00:00:00Z',
      '--revision',
      'bench',
    ]),
    repeat(
      '`msp generate --target kubernetes` (empty output folder)',
      ['generate', '--target', 'kubernetes', '--repo', work, '--out', out('k8s')],
      fresh('kubernetes', 'k8s'),
    ),
    repeat('`msp generate --target kubernetes --check` (up to date)', [
      'generate',
      '--target',
      'kubernetes',
      '--repo',
      work,
      '--out',
      out('k8s'),
      '--check',
    ]),
    repeat(
      '`msp generate --target gcp` (empty output folder)',
      ['generate', '--target', 'gcp', '--repo', work, '--out', out('gcp')],
      fresh('gcp', 'gcp'),
    ),
  ];
  onRuntime('kubernetes')();
  const k8sFiles = countFiles(out('k8s'));
  const gcpFiles = countFiles(out('gcp'));
  console.log(
    `Machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`,
  );
  console.log(`Load average (1 min) before / after: ${loadBefore} / ${loadavg()[0].toFixed(2)}`);
  console.log(
    `Synthetic repo: ${SERVICES} services × 2 environments + ${INSTANCES} instances = ${SERVICES * 2 + INSTANCES} deployments; kubernetes: ${k8sFiles} files, gcp: ${gcpFiles} files\n`,
  );
  console.log('| benchmark | runs | median wall time | min / max | peak RSS (median) | vs handbook |');
  console.log('| --- | ---: | ---: | --- | ---: | ---: |');
  for (const r of rows)
    console.log(
      `| ${r.label} | ${runs} | ${r.median.toFixed(0)} ms | ${r.min.toFixed(0)} / ${r.max.toFixed(0)} ms | ${r.rss === undefined ? 'n/a' : `${(r.rss / 1024).toFixed(0)} MB`} | ${(r.median / rows[0].median).toFixed(2)}× |`,
    );
} finally {
  rmSync(work, { recursive: true, force: true });
}
