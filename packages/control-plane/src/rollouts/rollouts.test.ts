/**
 * Releases and rollouts against the real runtime: the Release Registry packed from packages/releaseregistry,
 * delivered to dev and promoted to prod through the health gate, under load, with a broken release that
 * rolls back by itself. One control plane for the whole file.
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-explicit-any -- JSON bodies */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFreePort } from '@msp/runtime-local';
import { startControlPlane, type ControlPlane } from '../server.js';
import { createLocalRuntime } from '../targets/local/index.js';
import {
  eventually,
  releaseRegistryDir,
  requestVia,
  stageRelease,
  uploadBundle,
} from '../testing/fixture-repo.js';
import { createRolloutsModule } from './module.js';

const brokenDir = fileURLToPath(new URL('../../../../examples/broken-release', import.meta.url));

interface AutocannonResult {
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { total: number };
  latency: { p99: number };
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult> & { stop?: () => void };

describe('releases and rollouts', () => {
  let dir: string;
  let cp: ControlPlane;
  let proxyPort: number;
  const suffix = Math.random().toString(36).slice(2, 8);
  const domain = (env: string) => `rr-${env}.t${suffix}.localhost`;

  const api = async (path: string, body?: unknown) => {
    // A release `from` a folder is packed here and uploaded with its sha256, as `msp release create` does.
    const { from, ...rest } = (body ?? {}) as { from?: string };
    if (path === '/releases' && from) body = { ...rest, bundle: await uploadBundle(cp, from) };
    const res = await fetch(`${cp.url}/api/v1${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };
  const releaseOf = async (key: string) => {
    const { body } = await api('/status');
    const d = (
      body.deployments as Array<{
        key: string;
        runtime: { instances: Array<{ release?: string; state: string }> };
      }>
    ).find((x) => x.key === key);
    return d?.runtime?.instances.filter((i) => i.state === 'healthy').map((i) => i.release) ?? [];
  };
  const finished = async (id: string) => {
    const op = await cp.engine.waitFor(id, 120_000);
    assert.ok(op && (op.status === 'succeeded' || op.status === 'failed'), `operation ${id} did not finish`);
    return op;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'msp-rollouts-'));
    await chmod(dir, 0o711);
    await writeFile(
      join(dir, 'msp.yaml'),
      [
        'organization: { name: Test Org }',
        `baseDomain: t${suffix}.localhost`,
        'environments:',
        '  - { id: dev, category: test, runtime: local }',
        '  - id: prod',
        '    category: internal',
        '    runtime: local',
        "    notifications: { channels: ['#deploys-{service}-{env}'] }",
        '',
      ].join('\n'),
    );
    await mkdir(join(dir, 'services', 'releaseregistry'), { recursive: true });
    await writeFile(join(dir, 'services', 'releaseregistry', 'README.md'), '# Release Registry\n');
    const env = (id: string, category: string) => [
      `  - id: ${id}`,
      `    projectID: releaseregistry-${id}`,
      `    category: ${category}`,
      '    deploy: { type: rollout }',
      `    domain: ${domain(id)}`,
      '    healthProbes: { healthzProbes: true, timeout: 1 }',
      '    secretEnv: { RELEASE_REGISTRY_TOKEN: releaseregistry-token }',
      '    resources: { postgreSQL: { databases: [releaseregistry] } }',
    ];
    await writeFile(
      join(dir, 'services', 'releaseregistry', 'service.yaml'),
      [
        'service: { id: releaseregistry, owners: [platform], description: Records product releases. }',
        'build:',
        '  local:',
        `    dir: ${JSON.stringify(releaseRegistryDir)}`,
        "    command: ['node', 'dist/main.js']",
        'environments:',
        ...env('dev', 'test'),
        ...env('prod', 'internal'),
        'rollout: { stages: [{ environment: dev }, { environment: prod }] }',
        '',
      ].join('\n'),
    );
    proxyPort = await findFreePort();
    cp = await startControlPlane({
      repoDir: dir,
      port: await findFreePort(),
      createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort, soakMs: 2000 }),
      modules: [createRolloutsModule()],
      log: () => undefined,
    });
    for (const env of ['dev', 'prod']) {
      await eventually(`releaseregistry/${env} healthy`, 120_000, async () =>
        (await cp.store.getDeployment(`releaseregistry/${env}`))?.status === 'healthy' ? true : undefined,
      );
    }
  });

  after(async () => {
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('create v0.2.0: dev serves it within seconds, prod still serves v0.1.0', async () => {
    const from = await stageRelease(releaseRegistryDir, join(dir, 'build-v0.2.0'), { version: '0.2.0' });
    const started = Date.now();
    const created = await api('/releases', { service: 'releaseregistry', version: 'v0.2.0', from });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.deliveredTo, 'dev');
    assert.match(created.body.release.artifacts[0].digest, /^sha256:/);
    const op = await finished(created.body.operation.id);
    assert.equal(op.status, 'succeeded', op.error);
    assert.deepEqual(await releaseOf('releaseregistry/dev'), ['v0.2.0']);
    assert.ok(Date.now() - started < 30_000);
    assert.deepEqual(await releaseOf('releaseregistry/prod'), ['v0.1.0']);
    // What answers through the proxy is the new release in dev and still the old one in prod.
    const viaProxy = await requestVia(proxyPort, domain('dev'), '/v1/releases');
    assert.equal(viaProxy.status, 200);
    assert.equal(viaProxy.headers['release-registry-version'], 'v0.2.0');
    const prodAnswer = await requestVia(proxyPort, domain('prod'), '/v1/releases');
    assert.equal(prodAnswer.headers['release-registry-version'], 'v0.1.0');
    // the embedded registry is public for reads at /registry, outside the API's bearer auth
    const listed = await fetch(`${cp.url}/registry/v1/releases/releaseregistry`);
    assert.equal(listed.status, 200);
    assert.deepEqual(
      ((await listed.json()) as Array<{ version: string }>).map((r) => r.version),
      ['v0.2.0'],
    );
    // versions are immutable
    const again = await api('/releases', { service: 'releaseregistry', version: 'v0.2.0', from });
    assert.equal(again.status, 409);
    assert.match(again.body.error.message, /already exists/);
  });

  test('promote under load through the proxy: prod serves v0.2.0, no request fails', async () => {
    const require = createRequire(import.meta.url);
    const autocannon = require('autocannon') as Autocannon;
    let promoted = false;
    const load = autocannon({
      url: `http://127.0.0.1:${proxyPort}/v1/releases/releaseregistry`,
      headers: { host: domain('prod') },
      connections: 50,
      duration: 60,
    });
    await new Promise((r) => setTimeout(r, 1000)); // steady load before the switch
    const res = await api('/rollouts/promote', { service: 'releaseregistry' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual(res.body.move, { kind: 'promote', version: 'v0.2.0', from: 'dev', to: 'prod' });
    const op = await finished(res.body.operation.id);
    promoted = op.status === 'succeeded';
    (load as { stop?: () => void }).stop?.();
    const result = await load;
    assert.ok(promoted, op.error);
    assert.ok(result.requests.total > 100, `only ${result.requests.total} requests`);
    assert.equal(result.errors, 0, 'connection errors');
    assert.equal(result.timeouts, 0, 'timeouts');
    assert.equal(result.non2xx, 0, 'non-2xx responses');
    assert.deepEqual(await releaseOf('releaseregistry/prod'), ['v0.2.0']);
    const answer = await requestVia(proxyPort, domain('prod'), '/v1/releases');
    assert.equal(answer.headers['release-registry-version'], 'v0.2.0');
  });

  test('history shows the delivery and the promotion with who and when; notifications were recorded', async () => {
    const { body } = await api('/rollouts/history?service=releaseregistry');
    const history = body.history as Array<Record<string, any>>;
    const deliver = history.find((h) => h.action === 'deliver' && h.version === 'v0.2.0')!;
    const promote = history.find((h) => h.action === 'promote' && h.version === 'v0.2.0')!;
    assert.equal(deliver.toEnvironment, 'dev');
    assert.equal(deliver.outcome, 'succeeded');
    assert.equal(deliver.actor, 'admin');
    assert.equal(promote.fromEnvironment, 'dev');
    assert.equal(promote.toEnvironment, 'prod');
    assert.equal(promote.previousVersion, 'v0.1.0');
    assert.equal(promote.actor, 'admin');
    assert.ok(Date.parse(promote.startedAt) >= Date.parse(deliver.startedAt));
    const events = await cp.store.listEvents({ deploymentKey: 'releaseregistry/prod' });
    const note = events.find((e) => e.kind === 'notification' && /promoted/.test(e.message));
    assert.ok(note);
    assert.deepEqual(note.data.channels, ['#deploys-releaseregistry-prod']);
    const status = await api('/rollouts/status?service=releaseregistry');
    assert.deepEqual(
      (status.body.stages as Array<{ environment: string; release: string }>).map((s) => [
        s.environment,
        s.release,
      ]),
      [
        ['dev', 'v0.2.0'],
        ['prod', 'v0.2.0'],
      ],
    );
  });

  test('a release failing its health check rolls back by itself; promoting it is refused', async () => {
    const created = await api('/releases', {
      service: 'releaseregistry',
      version: 'v0.3.0',
      from: brokenDir,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const op = await finished(created.body.operation.id);
    assert.equal(op.status, 'failed');
    assert.match(
      op.error ?? '',
      /v0\.3\.0 failed its health gate: startup probe timeout.*traffic stays on v0\.2\.0/s,
    );
    assert.deepEqual(await releaseOf('releaseregistry/dev'), ['v0.2.0']);
    assert.equal((await requestVia(proxyPort, domain('dev'), '/v1/releases')).status, 200);
    assert.equal((await cp.store.getDeployment('releaseregistry/dev'))?.targetRelease?.version, 'v0.2.0');
    const refused = await api('/rollouts/promote', {
      service: 'releaseregistry',
      to: 'prod',
      version: 'v0.3.0',
    });
    assert.equal(refused.status, 412);
    assert.match(refused.body.error.message, /failed its health gate/);
    const { body } = await api('/rollouts/history?service=releaseregistry');
    const record = (body.history as Array<Record<string, any>>).find((h) => h.version === 'v0.3.0')!;
    assert.equal(record.outcome, 'rolled-back');
    assert.match(record.reason, /startup probe timeout/);
  });

  test('a release that fails during the soak: traffic returns to the previous release', async () => {
    const from = await stageRelease(brokenDir, join(dir, 'build-v0.3.1'), {
      version: '0.3.1',
      brokenAfterMs: 800,
    });
    const created = await api('/releases', {
      service: 'releaseregistry',
      version: 'v0.3.1',
      from,
      soakSeconds: 4,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const op = await finished(created.body.operation.id);
    assert.equal(op.status, 'failed');
    assert.match(
      op.error ?? '',
      /v0\.3\.1 failed its health gate: health checks failed during the soak.*traffic returned to v0\.2\.0/s,
    );
    assert.deepEqual(await releaseOf('releaseregistry/dev'), ['v0.2.0']);
    assert.equal((await requestVia(proxyPort, domain('dev'), '/v1/releases')).status, 200);
  });

  test('a suspended pipeline refuses create-delivery and promote; resume lets them through', async () => {
    assert.equal((await api('/rollouts/suspend', { service: 'releaseregistry' })).status, 200);
    const from = await stageRelease(releaseRegistryDir, join(dir, 'build-v0.4.0'), { version: '0.4.0' });
    const refused = await api('/releases', { service: 'releaseregistry', version: 'v0.4.0', from });
    assert.equal(refused.status, 412);
    assert.match(refused.body.error.message, /suspended.*msp rollout resume releaseregistry/);
    const promote = await api('/rollouts/promote', { service: 'releaseregistry', to: 'prod' });
    assert.equal(promote.status, 412);
    assert.match(promote.body.error.message, /suspended/);
    assert.equal((await api('/rollouts/status?service=releaseregistry')).body.suspended, true);
    assert.equal((await api('/rollouts/resume', { service: 'releaseregistry' })).status, 200);
    const created = await api('/releases', {
      service: 'releaseregistry',
      version: 'v0.4.0',
      from,
      soakSeconds: 0,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal((await finished(created.body.operation.id)).status, 'succeeded');
    const promoted = await api('/rollouts/promote', { service: 'releaseregistry', soakSeconds: 0 });
    assert.equal(promoted.status, 202, JSON.stringify(promoted.body));
    assert.equal((await finished(promoted.body.operation.id)).status, 'succeeded');
    assert.deepEqual(await releaseOf('releaseregistry/prod'), ['v0.4.0']);
  });

  test('rollback redeploys what the stage ran before; a second move meanwhile is told what blocks it', async () => {
    const rollback = { service: 'releaseregistry', environment: 'prod', soakSeconds: 0 };
    const res = await api('/rollouts/rollback', rollback);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const busy = await api('/rollouts/rollback', rollback);
    assert.equal(busy.status, 409, JSON.stringify(busy.body));
    assert.match(
      busy.body.error.message,
      new RegExp(
        `is busy: rollback operation ${res.body.operation.id} .*has run for .*run the command again`,
      ),
    );
    assert.equal(busy.body.error.details.operation.id, res.body.operation.id);
    assert.equal((await finished(res.body.operation.id)).status, 'succeeded');
    assert.deepEqual(await releaseOf('releaseregistry/prod'), ['v0.2.0']);
  });

  test('a release whose first stage is busy is refused before it is registered, and can be created after', async () => {
    const from = await stageRelease(releaseRegistryDir, join(dir, 'build-v0.5.0'), { version: '0.5.0' });
    const first = await api('/releases', {
      service: 'releaseregistry',
      version: 'v0.5.0',
      from,
      soakSeconds: 0,
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const busy = await api('/releases', {
      service: 'releaseregistry',
      version: 'v0.5.1',
      from,
      soakSeconds: 0,
    });
    assert.equal(busy.status, 409, JSON.stringify(busy.body));
    assert.match(busy.body.error.message, /is busy: deliver operation .*create the release again/);
    const listed = await api('/releases?service=releaseregistry');
    assert.ok(!(listed.body.releases as Array<{ version: string }>).some((r) => r.version === 'v0.5.1'));
    assert.equal((await finished(first.body.operation.id)).status, 'succeeded');
    const again = await api('/releases', {
      service: 'releaseregistry',
      version: 'v0.5.1',
      from,
      soakSeconds: 0,
    });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal((await finished(again.body.operation.id)).status, 'succeeded');
  });
});
