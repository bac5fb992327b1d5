/**
 * The seam: a target registered for an environment's runtime runs that environment's deployments, with
 * nothing else to change. A test-only fake target, registered as `kubernetes`, runs a deploy, a backup and
 * a promotion through the real control plane (engine, reconciler, backups and rollouts modules, API); and a
 * control plane without a target for a runtime refuses its deployments instead of running them locally.
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-explicit-any -- JSON bodies */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '@msp/runtime-local';
import { createBackupsModule } from '../backups/module.js';
import { createRolloutsModule } from '../rollouts/module.js';
import { startControlPlane, type ControlPlane } from '../server.js';
import { fakeTargetFactory, type FakeTarget } from '../testing/fake-target.js';
import { eventually, releaseRegistryDir, stageRelease, uploadBundle } from '../testing/fixture-repo.js';
import { createLocalRuntime } from './local/index.js';

/** A repo whose environments all run on `runtime`, with one service `shop` (PostgreSQL, a rollout dev → prod). */
async function repoOn(runtime: string, envs: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `msp-seam-${runtime}-`));
  await chmod(dir, 0o711);
  const suffix = Math.random().toString(36).slice(2, 8);
  await writeFile(
    join(dir, 'msp.yaml'),
    [
      'organization: { name: Test Org }',
      `baseDomain: t${suffix}.localhost`,
      'environments:',
      ...envs.map(
        (e) => `  - { id: ${e}, category: ${e === 'dev' ? 'test' : 'internal'}, runtime: ${runtime} }`,
      ),
      '',
    ].join('\n'),
  );
  await mkdir(join(dir, 'services', 'shop'), { recursive: true });
  await writeFile(join(dir, 'services', 'shop', 'README.md'), '# Shop\n');
  await writeFile(
    join(dir, 'services', 'shop', 'service.yaml'),
    [
      'service: { id: shop, owners: [platform], description: Sells things. }',
      'build:',
      '  local:',
      `    dir: ${JSON.stringify(releaseRegistryDir)}`,
      "    command: ['node', 'dist/main.js']",
      'environments:',
      ...envs.flatMap((e) => [
        `  - id: ${e}`,
        `    projectID: shop-${e}`,
        `    category: ${e === 'dev' ? 'test' : 'internal'}`,
        '    deploy: { type: rollout }',
        '    resources: { postgreSQL: { databases: [shop] } }',
      ]),
      `rollout: { stages: [${envs.map((e) => `{ environment: ${e} }`).join(', ')}] }`,
      '',
    ].join('\n'),
  );
  return dir;
}

describe('a target registered through the seam', () => {
  let dir: string;
  let cp: ControlPlane;
  let fake: FakeTarget | undefined;

  const api = async (path: string, body?: unknown) => {
    const res = await fetch(`${cp.url}/api/v1${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const succeeded = async (id: string) => {
    const op = await cp.engine.waitFor(id, 60_000);
    assert.ok(op, `operation ${id} is gone`);
    assert.equal(op.status, 'succeeded', op.error);
    return op;
  };

  before(async () => {
    dir = await repoOn('kubernetes', ['dev', 'prod']);
    cp = await startControlPlane({
      repoDir: dir,
      port: await findFreePort(),
      targets: { kubernetes: fakeTargetFactory('kubernetes', (t) => (fake = t)) },
      modules: [createRolloutsModule(), createBackupsModule({ schedules: false })],
      log: () => undefined,
    });
  });

  after(async () => {
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('deploy: the reconciler runs the target’s own steps, and the API shows what the target reports', async () => {
    for (const env of ['dev', 'prod']) {
      await eventually(`shop/${env} healthy`, 30_000, async () =>
        (await cp.store.getDeployment(`shop/${env}`))?.status === 'healthy' ? true : undefined,
      );
    }
    const ops = await cp.store.listOperations({ deploymentKey: 'shop/dev', limit: 10 });
    assert.deepEqual(
      ops.find((o) => o.kind === 'deploy')?.steps.map((s) => s.name),
      ['apply', 'record'],
    );
    assert.ok(fake!.calls.includes('step apply shop/dev (deploy)'));
    const status = await api('/status');
    const dev = (status.body.deployments as any[]).find((d) => d.key === 'shop/dev');
    assert.equal(dev.runtime.instances[0].state, 'healthy');
    assert.equal(cp.runtime.name, 'kubernetes');
  });

  test('backup: the backups feature takes it through the target’s databases capability', async () => {
    const created = await api('/backups', { deployment: 'shop/dev' });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const op = await succeeded(created.body.id);
    assert.match(String(op.result?.backupId), /-base$/);
    assert.ok(fake!.calls.includes('baseBackup shop/dev fast=true'), fake!.calls.join('\n'));
    const list = await api('/backups?deployment=shop/dev');
    assert.equal(list.status, 200);
    assert.deepEqual(
      (list.body.backups as any[]).map((b) => [b.id, b.status]),
      [[op.result?.backupId, 'succeeded']],
    );
    assert.equal(list.body.lastGoodBaseBackup.id, op.result?.backupId);
    // The catalog and the target agree: verification asks the target, and finds the backup there.
    const verify = await api(`/backups/${String(op.result?.backupId)}/verify`, {});
    await succeeded(verify.body.id);
  });

  test('promotion: a release delivered to dev and promoted to prod runs the target’s deploy steps', async () => {
    const from = await stageRelease(releaseRegistryDir, join(dir, 'build-v0.2.0'), { version: '0.2.0' });
    const bundle = await uploadBundle(cp, from);
    const created = await api('/releases', { service: 'shop', version: 'v0.2.0', bundle });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.deliveredTo, 'dev');
    const delivered = await succeeded(created.body.operation.id);
    assert.deepEqual(
      delivered.steps.map((s) => s.name),
      ['release', 'apply', 'record', 'pipeline'],
    );
    assert.equal(fake!.deployment('shop/dev')?.release, 'v0.2.0');
    assert.notEqual(fake!.deployment('shop/prod')?.release, 'v0.2.0');

    const promoted = await api('/rollouts/promote', { service: 'shop' });
    assert.equal(promoted.status, 202, JSON.stringify(promoted.body));
    assert.deepEqual(promoted.body.move, { kind: 'promote', version: 'v0.2.0', from: 'dev', to: 'prod' });
    await succeeded(promoted.body.operation.id);
    assert.equal(fake!.deployment('shop/prod')?.release, 'v0.2.0');
    assert.equal((await cp.store.getDeployment('shop/prod'))?.release, 'v0.2.0');
    const history = await api('/rollouts/history?service=shop');
    assert.ok(
      (history.body.history as any[]).some(
        (h) => h.action === 'promote' && h.toEnvironment === 'prod' && h.outcome === 'succeeded',
      ),
      JSON.stringify(history.body),
    );
  });
});

test('an environment whose runtime has no target is refused by reconcile, not run locally', async () => {
  const dir = await repoOn('kubernetes', ['dev']);
  const proxyPort = await findFreePort();
  const cp = await startControlPlane({
    repoDir: dir,
    port: await findFreePort(),
    createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort }),
    reconcile: false,
    log: () => undefined,
  });
  try {
    const result = await cp.reconcileNow('test');
    assert.deepEqual(result.diagnostics, []);
    assert.equal(result.actions.length, 1);
    assert.equal(result.actions[0]!.key, 'shop/dev');
    assert.equal(result.actions[0]!.operationId, undefined);
    assert.match(
      result.actions[0]!.error ?? '',
      /^environment dev uses runtime kubernetes, which this control plane cannot run yet; it runs local\. Set `runtime: local` for dev in msp\.yaml/,
    );
    assert.equal(await cp.store.getDeployment('shop/dev'), undefined);
    assert.deepEqual(await cp.store.listOperations({ limit: 10 }), []);
    assert.equal(cp.runtime.isRunning('shop/dev'), false);
  } finally {
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
