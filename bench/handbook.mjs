#!/usr/bin/env node
// Issue 2 benchmarks: cold start of `msp --help` and `msp spec validate --repo examples/platform`
// (median of 10 runs each), and `msp spec validate` / `msp operations generate-handbook-pages` on a
// generated platform repo of 200 services and 400 managed instances: wall time and peak RSS.
// Run from the repository root after `npm run build`: `node bench/handbook.mjs [--runs N] [--keep]`.
// Peak RSS comes from `/usr/bin/time -v` when present, else from the child's own resourceUsage().
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSTANCES, SERVICES, writeRepo } from './synthetic-repo.mjs';

const root = new URL('..', import.meta.url).pathname;
const msp = join(root, 'packages/cli/bin/msp.js');
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 10;
const keep = args.includes('--keep');

if (!existsSync(join(root, 'packages/cli/dist/main.js'))) {
  console.error('Build first: npm run build');
  process.exit(1);
}

// --- measuring ---------------------------------------------------------------------------------------
const hasTime = existsSync('/usr/bin/time');
// Fallback: a preload that reports the child's own peak RSS on exit.
const preload = join(tmpdir(), `msp-bench-maxrss-${process.pid}.mjs`);
writeFileSync(
  preload,
  "process.on('exit', () => { process.getBuiltinModule('node:fs').writeSync(3, String(process.resourceUsage().maxRSS)); });\n",
);

function run(cmdArgs, { expectStatus = 0 } = {}) {
  const start = process.hrtime.bigint();
  let result;
  let maxRssKB;
  if (hasTime) {
    result = spawnSync('/usr/bin/time', ['-v', process.execPath, msp, ...cmdArgs], {
      encoding: 'utf8',
      cwd: root,
    });
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr);
    maxRssKB = m ? Number(m[1]) : undefined;
  } else {
    result = spawnSync(process.execPath, ['--import', preload, msp, ...cmdArgs], {
      encoding: 'utf8',
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    maxRssKB = Number(result.output[3]) || undefined;
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== expectStatus) {
    console.error(result.stdout, result.stderr);
    throw new Error(`msp ${cmdArgs.join(' ')} exited ${result.status}`);
  }
  return { ms, maxRssKB };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmtMs = (ms) => `${ms.toFixed(0)} ms`;
const fmtMB = (kb) => (kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(0)} MB`);

function repeat(label, cmdArgs, n) {
  run(cmdArgs); // warm the file cache; "cold" here means a new process each time
  const samples = Array.from({ length: n }, () => run(cmdArgs));
  return {
    label,
    command: `msp ${cmdArgs.join(' ')}`,
    runs: n,
    median: median(samples.map((s) => s.ms)),
    min: Math.min(...samples.map((s) => s.ms)),
    max: Math.max(...samples.map((s) => s.ms)),
    rss: median(samples.map((s) => s.maxRssKB ?? 0)) || undefined,
  };
}

const loadBefore = loadavg()[0].toFixed(2);
const work = mkdtempSync(join(tmpdir(), 'msp-bench-repo-'));
try {
  const t0 = Date.now();
  writeRepo(work);
  const genMs = Date.now() - t0;
  const out = join(work, 'docs');
  const rows = [
    repeat('cold start: `msp --help`', ['--help'], runs),
    repeat(
      'cold start: `msp spec validate --repo examples/platform`',
      ['spec', 'validate', '--repo', 'examples/platform'],
      runs,
    ),
    repeat(
      `validate ${SERVICES} services + ${INSTANCES} instances`,
      ['spec', 'validate', '--repo', work],
      Math.min(runs, 5),
    ),
    repeat(
      `generate handbook for ${SERVICES} services + ${INSTANCES} instances`,
      [
        'operations',
        'generate-handbook-pages',
        '--repo',
        work,
        '--out',
        out,
        '--date',
        '2026-01-01T00:00:00Z',
        '--revision',
        'bench',
      ],
      Math.min(runs, 5),
    ),
  ];
  const files = readdirSync(out).length;
  const machine = `${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory (${(freemem() / 2 ** 30).toFixed(1)} GiB free), Node ${process.version}, ${process.platform}-${process.arch}`;
  console.log(`Machine: ${machine}`);
  console.log(`Load average (1 min) before / after: ${loadBefore} / ${loadavg()[0].toFixed(2)}`);
  console.log(
    `Peak RSS from: ${hasTime ? '/usr/bin/time -v' : 'process.resourceUsage().maxRSS of the child'}`,
  );
  console.log(
    `Synthetic repo: ${SERVICES} services (2 environments each), ${INSTANCES} instances, written in ${genMs} ms; handbook: ${files} files\n`,
  );
  console.log('| benchmark | runs | median wall time | min / max | peak RSS (median) |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows)
    console.log(
      `| ${r.label} | ${r.runs} | ${fmtMs(r.median)} | ${fmtMs(r.min)} / ${fmtMs(r.max)} | ${fmtMB(r.rss)} |`,
    );
} finally {
  rmSync(preload, { force: true });
  if (keep) console.log(`\nkept the synthetic repo in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
