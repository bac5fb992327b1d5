#!/usr/bin/env node
/* global fetch */
// Issue 5 benchmark: rollouts with the real CLI and the real Release Registry. A temp platform repo with
// releaseregistry in dev → prod; `msp up` as a subprocess. Measures: `msp release create` → dev serving
// the release, and `msp rollout promote` → prod serving it, with autocannon (50 connections) on prod
// through the proxy: steady state first, then during the promotion, in the same run. Then a kill -9 of the
// control plane mid-promotion and a restart: what prod serves must match the record.
//
//   npm run build && node bench/rollout.mjs [--no-write]
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = fileURLToPath(new URL('..', import.meta.url));
const msp = join(root, 'packages', 'cli', 'bin', 'msp.js');
const registryDir = join(root, 'packages', 'releaseregistry');
const autocannon = createRequire(import.meta.url)('autocannon');
const write = !process.argv.includes('--no-write');

const dir = mkdtempSync(join(tmpdir(), 'msp-bench-rollout-'));
chmodSync(dir, 0o711);
const suffix = Math.random().toString(36).slice(2, 8);
const domain = (env) => `rr-${env}.b${suffix}.localhost`;
const port = 7900 + Math.floor(Math.random() * 50);
const proxyPort = port + 100;

writeFileSync(
  join(dir, 'msp.yaml'),
  `organization: { name: Bench }\nbaseDomain: b${suffix}.localhost\nenvironments:\n  - { id: dev, category: test, runtime: local }\n  - { id: prod, category: internal, runtime: local }\n`,
);
mkdirSync(join(dir, 'services', 'releaseregistry'), { recursive: true });
writeFileSync(join(dir, 'services', 'releaseregistry', 'README.md'), '# Release Registry\n');
const env = (id, category) =>
  `  - id: ${id}\n    projectID: releaseregistry-${id}\n    category: ${category}\n    deploy: { type: rollout }\n    domain: ${domain(id)}\n    healthProbes: { healthzProbes: true, timeout: 1 }\n    secretEnv: { RELEASE_REGISTRY_TOKEN: releaseregistry-token }\n    resources: { postgreSQL: { databases: [releaseregistry] } }\n`;
writeFileSync(
  join(dir, 'services', 'releaseregistry', 'service.yaml'),
  `service: { id: releaseregistry, owners: [platform], description: Records product releases. }\nbuild:\n  local:\n    dir: ${JSON.stringify(registryDir)}\n    command: ['node', 'dist/main.js']\nenvironments:\n${env('dev', 'test')}${env('prod', 'internal')}rollout: { stages: [{ environment: dev }, { environment: prod }] }\n`,
);

function stage(version) {
  const out = join(dir, `build-${version}`);
  const pkg = JSON.parse(readFileSync(join(registryDir, 'package.json'), 'utf8'));
  for (const f of pkg.files) cpSync(join(registryDir, f), join(out, f), { recursive: true });
  writeFileSync(join(out, 'package.json'), JSON.stringify({ ...pkg, version: version.slice(1) }));
  return out;
}

let up;
function startUp() {
  up = spawn(
    process.execPath,
    [msp, 'up', '--repo', dir, '--port', String(port), '--proxy-port', String(proxyPort)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  up.stdout.on('data', (d) => (out += d));
  up.stderr.on('data', (d) => (out += d));
  return () => out;
}
const cli = (...args) => spawnSync(process.execPath, [msp, ...args, '--repo', dir], { encoding: 'utf8' });
const api = async (path) => {
  const token = readFileSync(join(dir, '.msp', 'admin-token'), 'utf8').trim();
  const res = await fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return res.json();
};
const serving = async (key) => {
  try {
    const s = await api('/status');
    return (s.deployments.find((d) => d.key === key)?.runtime?.instances ?? [])
      .filter((i) => i.state === 'healthy')
      .map((i) => i.release);
  } catch {
    return [];
  }
};
const until = async (what, ms, fn) => {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

let upOutput;
try {
  upOutput = startUp();
  await until('dev and prod healthy', 180_000, async () => {
    const [d, p] = [await serving('releaseregistry/dev'), await serving('releaseregistry/prod')];
    return d.length > 0 && p.length > 0;
  });

  // 1. release create → dev serves it
  let t = Date.now();
  const created = cli(
    'release',
    'create',
    'releaseregistry',
    '--version',
    'v0.2.0',
    '--from',
    stage('v0.2.0'),
    '--no-wait',
  );
  if (created.status !== 0) throw new Error(created.stderr);
  await until(
    'dev serves v0.2.0',
    60_000,
    async () => (await serving('releaseregistry/dev')).join() === 'v0.2.0',
  );
  const createToDev = Date.now() - t;

  // 2. steady load on prod, then promote under load
  const run = (duration) =>
    autocannon({
      url: `http://127.0.0.1:${proxyPort}/v1/releases/releaseregistry`,
      headers: { host: domain('prod') },
      connections: 50,
      duration,
    });
  await new Promise((r) => setTimeout(r, 4000)); // the delivery's soak ends
  const steady = await run(8);
  const during = run(30);
  t = Date.now();
  const promote = spawn(process.execPath, [msp, 'rollout', 'promote', 'releaseregistry', '--repo', dir], {
    stdio: 'ignore',
  });
  await until(
    'prod serves v0.2.0',
    60_000,
    async () => (await serving('releaseregistry/prod')).join() === 'v0.2.0',
  );
  const promoteToProd = Date.now() - t;
  const promoteCode = await new Promise((r) => promote.on('exit', r));
  during.stop();
  const switchRun = await during;

  // 3. kill -9 mid-promotion, restart: prod serves exactly what the record says
  cli(
    'release',
    'create',
    'releaseregistry',
    '--version',
    'v0.3.0',
    '--from',
    stage('v0.3.0'),
    '--soak',
    '0',
  );
  const p2 = cli('rollout', 'promote', 'releaseregistry', '--no-wait', '--json');
  const opId = JSON.parse(p2.stdout).operation.id;
  await until('promotion starting instances', 30_000, async () => {
    const op = await api(`/operations/${opId}`);
    return op.steps.find((s) => s.name === 'instances')?.status === 'running';
  });
  up.kill('SIGKILL');
  await new Promise((r) => up.on('exit', r));
  upOutput = startUp();
  const op = await until('the promotion finishes after restart', 180_000, async () => {
    try {
      const o = await api(`/operations/${opId}`);
      return o.status === 'succeeded' || o.status === 'failed' ? o : undefined;
    } catch {
      return undefined;
    }
  });
  const after = await until('prod serving after restart', 120_000, async () => {
    const s = await serving('releaseregistry/prod');
    return s.length > 0 ? s : undefined;
  });
  const st = await api('/rollouts/status?service=releaseregistry');
  const recorded = st.stages.find((s) => s.environment === 'prod').release;

  const result = {
    createToDevMs: createToDev,
    promoteToProdMs: promoteToProd,
    promoteExit: promoteCode,
    steady: {
      requests: steady.requests.total,
      p50: steady.latency.p50,
      p99: steady.latency.p99,
      errors: steady.errors,
      non2xx: steady.non2xx,
    },
    duringSwitch: {
      requests: switchRun.requests.total,
      p50: switchRun.latency.p50,
      p99: switchRun.latency.p99,
      errors: switchRun.errors,
      timeouts: switchRun.timeouts,
      non2xx: switchRun.non2xx,
    },
    crash: { operation: op.status, attempt: op.attempt, prodServes: after, recorded },
  };
  console.log(JSON.stringify(result, null, 2));
  if (write) {
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}, Node ${process.version}, load ${loadavg()[0].toFixed(2)} at start of write`;
    const section = [
      '## Issue 5: rollouts',
      '',
      `Command: \`npm run build && node bench/rollout.mjs\` (${new Date().toISOString().slice(0, 10)}). Machine: ${machine}.`,
      'The real `msp` CLI and `msp up`, the Release Registry from packages/releaseregistry, probes timeout 1 s,',
      'soak 3 s (default); autocannon, 50 connections, `GET /v1/releases/releaseregistry` on prod through the proxy.',
      '',
      '| measure | value |',
      '|---|---|',
      `| \`release create\` → dev serves it | ${(createToDev / 1000).toFixed(1)} s |`,
      `| \`rollout promote\` → prod serves it | ${(promoteToProd / 1000).toFixed(1)} s |`,
      `| steady state (8 s): requests, p50, p99 | ${steady.requests.total}, ${steady.latency.p50} ms, ${steady.latency.p99} ms |`,
      `| during the promotion: requests, p50, p99 | ${switchRun.requests.total}, ${switchRun.latency.p50} ms, ${switchRun.latency.p99} ms |`,
      `| during the promotion: errors, timeouts, non-2xx | ${switchRun.errors}, ${switchRun.timeouts}, ${switchRun.non2xx} |`,
      `| p99 during switch / steady | ${(switchRun.latency.p99 / Math.max(1, steady.latency.p99)).toFixed(2)}× |`,
      `| kill -9 mid-promotion, restart | operation ${op.status} (attempt ${op.attempt}); prod serves ${after.join(', ')}; record says ${recorded} |`,
      '',
    ].join('\n');
    const file = join(root, 'bench', 'RESULTS.md');
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n\n';
    const start = text.indexOf('## Issue 5: rollouts');
    const next = start < 0 ? -1 : text.indexOf('\n## ', start + 5);
    const updated =
      start < 0
        ? text.replace(/\n## /, `\n${section}\n## `)
        : text.slice(0, start) + section + (next < 0 ? '' : text.slice(next + 1));
    writeFileSync(file, updated);
  }
} catch (error) {
  console.error(upOutput?.() ?? '');
  try {
    console.error(
      JSON.stringify(
        (await api('/operations?limit=5')).operations.map((o) => [
          o.kind,
          o.status,
          o.error,
          o.steps.map((s) => `${s.name}:${s.status}`).join(' '),
        ]),
        null,
        1,
      ),
    );
  } catch {
    // the control plane is gone: nothing more to show
  }
  throw error;
} finally {
  up?.kill('SIGTERM');
  await new Promise((r) => (up && up.exitCode === null ? up.on('exit', r) : r()));
  rmSync(dir, { recursive: true, force: true });
}
