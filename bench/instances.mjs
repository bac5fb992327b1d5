#!/usr/bin/env node
/* global fetch, setInterval, clearInterval */
// Managed instances (issue 10): one instance's create, upgrade (by step) and in-place restore times, then a
// fleet of N instances upgraded at concurrency 1, 3 and 6 against the ideal (N ÷ concurrency × one upgrade),
// with the control plane's CPU and memory during each fleet. In-process control plane on the real local
// runtime (real PostgreSQL per instance); writes nothing outside temp folders. Run after `npm run build`:
//   node bench/instances.mjs [fleetSize=12] [concurrencies=1,3,6]
import { cpus, totalmem } from 'node:os';
import { findFreePort } from '../packages/runtime-local/dist/index.js';
import { startControlPlane, createLocalRuntime } from '../packages/control-plane/dist/index.js';
import { createBackupsModule } from '../packages/control-plane/dist/backups/index.js';
import { createRolloutsModule } from '../packages/control-plane/dist/rollouts/index.js';
import { createInstancesModule } from '../packages/control-plane/dist/instances/index.js';
import {
  createInstanceRepo,
  registerSampleReleases,
} from '../packages/control-plane/dist/instances/test-support.js';

const fleetSize = Number(process.argv[2] ?? 12);
const concurrencies = (process.argv[3] ?? '1,3,6').split(',').map(Number);
const repo = await createInstanceRepo(['  soak: 1s']);
const proxyPort = await findFreePort();
const cp = await startControlPlane({
  repoDir: repo.dir,
  port: await findFreePort(),
  createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort, soakMs: 1000 }),
  modules: [
    createRolloutsModule(),
    createBackupsModule({ schedules: false }),
    createInstancesModule({ fleetTickMs: 250 }),
  ],
  reconcile: false,
  log: () => undefined,
});
const api = async (path, body) => {
  const res = await fetch(`${cp.url}/api/v1${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};
const run = async (path, body) => {
  const queued = await api(path, body);
  const op = await cp.engine.waitFor(queued.id, 600_000);
  if (op.status !== 'succeeded') throw new Error(`${op.kind}: ${op.error}`);
  return op;
};
const secs = (a, b) => (Date.parse(b) - Date.parse(a)) / 1000;
const bySteps = (op) =>
  op.steps
    .filter((s) => !s.detail?.startsWith('skipped') && !/not needed/.test(s.detail ?? ''))
    .map((s) => `${s.name} ${secs(s.startedAt, s.finishedAt).toFixed(1)}`)
    .join(', ');
try {
  const token = await cp.store.getSecret('control-plane', 'registry-token');
  const versions = ['v1.0.0', 'v1.1.0', 'v2.0.0'];
  const extra = concurrencies.map((_, i) => `v2.0.${i + 1}`);
  await registerSampleReleases(cp, token, [
    ...versions.map((version) => ({ version, publish: true })),
    ...extra.map((version) => ({ version, from: 'v2.0.0', publish: true })),
  ]);
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB (shared with other work)`,
  );

  const created = await run('/instances', {
    id: 'bench',
    env: 'prod',
    customer: 'bench',
    type: 'production',
    version: 'v1.0.0',
  });
  console.log(`create: ${secs(created.startedAt, created.finishedAt).toFixed(1)} s (${bySteps(created)})`);
  for (const to of ['v1.1.0', 'v2.0.0']) {
    const up = await run('/instances/prod/bench/upgrade', { to });
    console.log(`upgrade to ${to}: ${secs(up.startedAt, up.finishedAt).toFixed(1)} s (${bySteps(up)})`);
  }
  const { backups } = await api('/instances/prod/bench/backups');
  const last = backups
    .filter((b) => b.type === 'base' && b.status === 'succeeded')
    .sort((a, b) => b.finishedAt.localeCompare(a.finishedAt))[0];
  const restored = await run('/restores', {
    deployment: 'instance/prod/bench',
    backup: last.id,
    inPlace: true,
  });
  console.log(
    `restore in place from ${last.id}: ${secs(restored.startedAt, restored.finishedAt).toFixed(1)} s (${bySteps(restored)})`,
  );
  await run('/instances/prod/bench/delete', { confirm: 'bench' });

  // The fleet: N production instances (created 4 at a time), then one fleet per concurrency.
  const ids = Array.from({ length: fleetSize }, (_, i) => `f${String(i + 1).padStart(2, '0')}`);
  for (let i = 0; i < ids.length; i += 4) {
    await Promise.all(
      ids
        .slice(i, i + 4)
        .map((id) =>
          run('/instances', { id, env: 'prod', customer: id, type: 'production', version: 'v2.0.0' }),
        ),
    );
  }
  console.log(`\nfleet of ${fleetSize}:`);
  for (const [i, concurrency] of concurrencies.entries()) {
    const cpuStart = process.cpuUsage();
    let rssMax = 0;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 200);
    const started = Date.now();
    const { fleet } = await api('/fleets', { to: extra[i], env: 'prod', concurrency, soak: '1s' });
    let f;
    for (;;) {
      f = await api(`/fleets/${fleet.id}`);
      if (f.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const wall = (Date.now() - started) / 1000;
    clearInterval(sampler);
    const cpu = process.cpuUsage(cpuStart);
    if (f.status !== 'succeeded') {
      console.log(`  concurrency ${concurrency}: ${f.status}: ${f.stopReason}`);
      continue;
    }
    const each = f.members.map((m) => secs(m.startedAt, m.finishedAt));
    const mean = each.reduce((a, b) => a + b, 0) / each.length;
    const ideal = (fleetSize / concurrency) * mean;
    console.log(
      `  concurrency ${concurrency}: ${f.status}, wall ${wall.toFixed(1)} s, one upgrade ${mean.toFixed(1)} s (mean), ideal ${ideal.toFixed(1)} s → ${((100 * ideal) / wall).toFixed(0)}% of ideal; control plane CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (${((100 * (cpu.user + cpu.system)) / 1e6 / wall).toFixed(0)}% of one core), RSS max ${(rssMax / 2 ** 20).toFixed(0)} MiB`,
    );
  }
} finally {
  await cp.stop();
}
