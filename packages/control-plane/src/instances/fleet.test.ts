/**
 * Fleet upgrades in rings against the real local runtime: one internal and three customer instances at
 * concurrency 2 — the internal one completes before any customer starts, a failing customer stops the
 * fleet, resume after the fix completes it, a paused instance is skipped; a closed maintenance window
 * makes its instance wait, `--now` (with a reason) overrides it. One control plane for the file.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { findFreePort } from '@msp/runtime-local';
import { startControlPlane, type ControlPlane } from '../server.js';
import { createLocalRuntime } from '../targets/local/index.js';
import { eventually } from '../testing/fixture-repo.js';
import { createBackupsModule } from '../backups/module.js';
import { createRolloutsModule } from '../rollouts/module.js';
import type { Fleet } from './fleet.js';
import { createInstancesModule } from './module.js';
import { createInstanceRepo, registerSampleReleases } from './test-support.js';

describe('fleet upgrades', () => {
  let cp: ControlPlane;

  const api = async (path: string, body?: unknown) => {
    const res = await fetch(`${cp.url}/api/v1${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> };
  };
  const fleet = async (id: string) => (await api(`/fleets/${id}`)).body as unknown as Fleet;
  const member = (f: Fleet, id: string) => f.members.find((m) => m.id === id)!;

  let repo: { dir: string } | undefined;
  before(async () => {
    repo = await createInstanceRepo(['  soak: 1s']);
    const proxyPort = await findFreePort();
    cp = await startControlPlane({
      repoDir: repo.dir,
      port: await findFreePort(),
      createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort, soakMs: 300 }),
      modules: [
        createRolloutsModule(),
        createBackupsModule({ schedules: false }),
        createInstancesModule({ fleetTickMs: 300 }),
      ],
      reconcile: false,
      log: () => undefined,
    });
    const token = (await cp.store.getSecret('control-plane', 'registry-token'))!;
    await registerSampleReleases(cp, token, [
      { version: 'v1.0.0', publish: true },
      { version: 'v1.1.0', publish: true },
    ]);
    // A window that opens in three hours, every day: closed now.
    const start = new Date(Date.now() + 3 * 3600_000);
    const hhmm = `${String(start.getUTCHours()).padStart(2, '0')}:${String(start.getUTCMinutes()).padStart(2, '0')}`;
    const instances = [
      { id: 'int-demo', env: 'prod', customer: 'demo', type: 'internal' },
      { id: 'cust-a', env: 'prod', customer: 'alpha', type: 'production' },
      { id: 'cust-b', env: 'prod', customer: 'beta', type: 'production' },
      { id: 'cust-p', env: 'prod', customer: 'paused', type: 'production', channel: 'pause' },
      {
        id: 'cust-w',
        env: 'dev',
        customer: 'windowed',
        type: 'trial',
        ttl: '2h',
        maintenance: {
          windows: [
            {
              days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
              start: hhmm,
              duration: '1h',
              timezone: 'UTC',
            },
          ],
        },
      },
    ];
    const ops = await Promise.all(
      instances.map(async (i) => {
        const r = await api('/instances', { ...i, version: 'v1.0.0' });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        return (await cp.engine.waitFor(String(r.body.id), 300_000))!;
      }),
    );
    for (const op of ops) assert.equal(op.status, 'succeeded', `${op.deploymentKey}: ${op.error}`);
  });
  after(async () => {
    await cp?.stop();
    if (repo) await rm(repo.dir, { recursive: true, force: true });
  });

  test('rings, concurrency 2, stop at the first failure, resume after the fix, a paused instance skipped', async () => {
    const dry = await api('/fleets', { to: 'v1.1.0', env: 'prod', concurrency: 2, dryRun: true });
    assert.equal(dry.status, 202, JSON.stringify(dry.body));
    assert.equal(
      (await api('/fleets')).body.fleets instanceof Array &&
        ((await api('/fleets')).body.fleets as unknown[]).length,
      0,
    );

    // cust-b cannot be upgraded: it does not run (its health check fails).
    await cp.runtime.workloads.stop('instance/prod/cust-b');
    const started = await api('/fleets', { to: 'v1.1.0', env: 'prod', concurrency: 2 });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const id = (started.body.fleet as Fleet).id;
    let f = started.body.fleet as Fleet;
    assert.equal(member(f, 'cust-p').state, 'skipped');
    assert.match(member(f, 'cust-p').reason!, /channel pause/);
    assert.deepEqual(
      f.members.map((m) => [m.id, m.ringName]),
      [
        ['int-demo', 'internal'],
        ['cust-a', 'production'],
        ['cust-b', 'production'],
        ['cust-p', 'production'],
      ],
    );

    f = await eventually('the fleet to stop at cust-b', 300_000, async () => {
      const x = await fleet(id);
      return x.status === 'stopped' && !x.members.some((m) => m.state === 'running') ? x : undefined;
    });
    assert.match(f.stopReason!, /cust-b failed/);
    const internalDone = Date.parse(member(f, 'int-demo').finishedAt!);
    for (const c of ['cust-a', 'cust-b'])
      assert.ok(Date.parse(member(f, c).startedAt!) >= internalDone, `${c} started after the internal ring`);
    assert.equal(member(f, 'int-demo').state, 'succeeded');
    assert.equal(member(f, 'cust-b').state, 'failed');
    const events = await cp.store.listEvents({ limit: 100 });
    assert.ok(events.some((e) => e.kind === 'fleet-stopped' && e.data.fleet === id));

    // The fix: cust-b runs again; resume retries it and completes the fleet.
    await cp.runtime.workloads.start('instance/prod/cust-b', {
      operation: {
        id: 'test',
        kind: 'deploy',
        deploymentKey: 'instance/prod/cust-b',
        status: 'running',
        steps: [],
        reason: '',
        createdBy: 'test',
        createdAt: new Date().toISOString(),
        attempt: 1,
        input: {},
      },
      signal: new AbortController().signal,
      log: () => Promise.resolve(),
      setResult: () => undefined,
    });
    const resumed = await api(`/fleets/${id}/resume`, {});
    assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
    f = await eventually('the fleet to complete', 300_000, async () => {
      const x = await fleet(id);
      return x.status === 'succeeded' ? x : undefined;
    });
    assert.deepEqual(
      f.members.map((m) => [m.id, m.state]),
      [
        ['int-demo', 'succeeded'],
        ['cust-a', 'succeeded'],
        ['cust-b', 'succeeded'],
        ['cust-p', 'skipped'],
      ],
    );
    const report = (await api(`/fleets/${id}/report`)).body.markdown as string;
    assert.match(
      report,
      /\| 1 internal \| prod\/int-demo \| demo \| internal \| v1\.0\.0 \| v1\.1\.0 \| succeeded \|/,
    );
    assert.match(report, /prod\/cust-p .* skipped .*channel pause/);

    const again = await api(`/fleets/${id}/resume`, {});
    assert.equal(again.status, 400);
    assert.match(JSON.stringify(again.body), /finished/);
  });

  test('a closed maintenance window makes its instance wait; --now with a reason overrides it', async () => {
    const waiting = await api('/fleets', { to: 'v1.1.0', env: 'dev', soak: '1s' });
    assert.equal(waiting.status, 202, JSON.stringify(waiting.body));
    const id = (waiting.body.fleet as Fleet).id;
    const f = await eventually('cust-w to wait for its window', 30_000, async () => {
      const x = await fleet(id);
      return member(x, 'cust-w').state === 'waiting-window' ? x : undefined;
    });
    assert.match(member(f, 'cust-w').reason!, /waits for its maintenance window \(next opens/);
    assert.equal((await api(`/fleets/${id}/pause`, {})).status, 200);

    const noReason = await api('/fleets', { to: 'v1.1.0', env: 'dev', now: true });
    assert.equal(noReason.status, 400);
    const now = await api('/fleets', {
      to: 'v1.1.0',
      env: 'dev',
      now: true,
      nowReason: 'customer asked for the fix today',
    });
    assert.equal(now.status, 202, JSON.stringify(now.body));
    const nowId = (now.body.fleet as Fleet).id;
    const done = await eventually('the --now fleet to complete', 300_000, async () => {
      const x = await fleet(nowId);
      return x.status === 'succeeded' || x.status === 'stopped' ? x : undefined;
    });
    assert.equal(done.status, 'succeeded', JSON.stringify(done.members));
    assert.match(member(done, 'cust-w').reason!, /--now \(customer asked/);
    assert.match(
      (await api(`/fleets/${nowId}/report`)).body.markdown as string,
      /Maintenance windows overridden \(--now\): customer asked/,
    );
  });
});
