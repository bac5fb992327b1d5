/**
 * The instance playbooks against the real local runtime (real PostgreSQL, real processes, a real git
 * repo): create, write data through the product, upgrade across two versions with migrations, the failing
 * version rolled back to exactly the data from before, bad input refused with nothing changed, a busy
 * instance, and a TTL that runs out. One control plane for the whole file.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Operation } from '@msp/core';
import { findFreePort } from '@msp/runtime-local';
import { startControlPlane, type ControlPlane } from '../server.js';
import { createLocalRuntime } from '../targets/local/index.js';
import { eventually, requestVia } from '../testing/fixture-repo.js';
import { createBackupsModule } from '../backups/module.js';
import { createRolloutsModule } from '../rollouts/module.js';
import { createInstancesModule } from './module.js';
import { createInstanceRepo, gitLog, registerSampleReleases } from './test-support.js';

describe('instance playbooks', () => {
  let cp: ControlPlane;
  let repo: { dir: string; baseDomain: string };
  let proxyPort: number;

  const api = async (path: string, body?: unknown) => {
    const res = await fetch(`${cp.url}/api/v1${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> };
  };
  const finished = async (path: string, body: unknown): Promise<Operation> => {
    const r = await api(path, body);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const op = await cp.engine.waitFor(String(r.body.id), 300_000);
    return op!;
  };
  const ok = async (path: string, body: unknown): Promise<Operation> => {
    const op = await finished(path, body);
    if (op.status !== 'succeeded') {
      const log = await cp.store.readLog(op.id);
      assert.fail(`${op.kind} ${op.status}: ${op.error}\n${log.map((l) => l.message).join('\n')}`);
    }
    return op;
  };
  const product = (domain: string, path: string, init?: { method?: string; body?: string }) =>
    requestVia(proxyPort, domain, path, init);
  /** Row count and a checksum of the notes table as the product serves it. */
  const notesDigest = async (domain: string) => {
    const r = await product(domain, '/api/notes');
    assert.equal(r.status, 200, r.text);
    const rows = r.json<Array<Record<string, unknown>>>();
    return { count: rows.length, sha: createHash('sha256').update(JSON.stringify(rows)).digest('hex') };
  };

  before(async () => {
    repo = await createInstanceRepo();
    proxyPort = await findFreePort();
    cp = await startControlPlane({
      repoDir: repo.dir,
      port: await findFreePort(),
      createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort, soakMs: 500 }),
      modules: [
        createRolloutsModule(),
        createBackupsModule({ schedules: false }),
        createInstancesModule({ ttlCheckMs: 1000 }),
      ],
      // The playbooks keep the state in line with the repo themselves; the reconciler is tried at the end.
      reconcile: false,
      log: () => undefined,
    });
    const registryToken = (await cp.store.getSecret('control-plane', 'registry-token'))!;
    await registerSampleReleases(cp, registryToken, [
      { version: 'v1.0.0', publish: true },
      { version: 'v1.1.0', publish: true },
      { version: 'v2.0.0', publish: true },
      { version: 'v2.1.0', publish: true },
      { version: 'v3.0.0', from: 'v2.0.0', publish: false },
    ]);
  });
  after(async () => {
    await cp?.stop();
    if (repo) await rm(repo.dir, { recursive: true, force: true });
  });

  let ttlCreate: Promise<Operation> | undefined;
  const acme = () => `acme.${repo.baseDomain}`;

  test('create, write data, upgrade across two versions: data intact, one pre-upgrade backup each, git log', async () => {
    // A trial instance with a 1-minute TTL, created beside (its expiry is checked in the last test).
    ttlCreate = finished('/instances', {
      id: 'dev-bob',
      env: 'dev',
      customer: 'bob',
      type: 'trial',
      version: 'v1.0.0',
      ttl: '1m',
    });
    const dry = await api('/instances', {
      id: 'acme',
      env: 'prod',
      customer: 'acme',
      type: 'production',
      version: 'v1.0.0',
      dryRun: true,
    });
    assert.equal(dry.status, 202);
    assert.equal(dry.body.dryRun, true);
    assert.ok((dry.body.steps as string[]).includes('alerting'));
    assert.equal(await cp.store.getDeployment('instance/prod/acme'), undefined, 'a dry run changes nothing');

    const created = await ok('/instances', {
      id: 'acme',
      env: 'prod',
      customer: 'acme',
      type: 'production',
      version: 'v1.0.0',
      features: ['sso'],
    });
    assert.ok(
      created.steps.every((s) => s.startedAt && s.finishedAt),
      'every step is timed',
    );
    assert.equal((await product(acme(), '/')).text.includes('v1.0.0'), true);
    for (const body of ['first note\nwith a body', 'second note', 'third\nline two\nline three']) {
      const r = await product(acme(), '/api/notes', { method: 'POST', body: JSON.stringify({ body }) });
      assert.equal(r.status, 201, r.text);
    }
    assert.equal(
      (await product(acme(), '/api/uploads/logo.txt', { method: 'PUT', body: 'logo' })).status,
      201,
    );

    for (const to of ['v1.1.0', 'v2.0.0']) {
      const op = await ok('/instances/prod/acme/upgrade', { to });
      assert.match(op.steps.find((s) => s.name === 'migrate')!.detail!, /exit 0/);
      assert.match(op.steps.find((s) => s.name === 'rollback-data')!.detail!, /not needed/);
    }
    const notes = (await product(acme(), '/api/notes')).json<
      Array<{ title: string; body: string; tags: string[] }>
    >();
    assert.equal(notes.length, 3);
    assert.deepEqual(
      notes.map((n) => [n.title, n.body]),
      [
        ['first note', 'with a body'],
        ['second note', 'second note'],
        ['third', 'line two\nline three'],
      ],
    );
    assert.ok(notes.every((n) => Array.isArray(n.tags)));
    assert.equal((await product(acme(), '/api/uploads/logo.txt')).text, 'logo');
    assert.match((await product(acme(), '/')).text, /v2\.0\.0/);

    const backups = (await api('/instances/prod/acme/backups')).body.backups as Array<{
      kind: string;
      type: string;
    }>;
    assert.equal(backups.filter((b) => b.kind === 'pre-upgrade' && b.type === 'base').length, 2);
    const log = gitLog(repo.dir);
    assert.match(log[0]!, /instance prod\/acme: upgrade v1\.1\.0 → v2\.0\.0/);
    assert.match(log[1]!, /instance prod\/acme: upgrade v1\.0\.0 → v1\.1\.0/);
    assert.ok(log.some((l) => /instance prod\/acme: create for acme/.test(l)));

    const shown = await api('/instances/prod/acme');
    const inst = shown.body.instance as Record<string, unknown>;
    assert.equal(inst.version, 'v2.0.0');
    assert.equal(inst.status, 'healthy');
    assert.ok(inst.lastBackup);
  });

  test('upgrade to the version whose migration fails halfway: healthy on the old version with exactly its data', async () => {
    const before = await notesDigest(acme());
    const commits = gitLog(repo.dir).length;
    const op = await finished('/instances/prod/acme/upgrade', { to: 'v2.1.0' });
    assert.equal(op.status, 'failed');
    assert.match(op.error!, /failed at migrate/);
    assert.match(
      op.error!,
      /rolled back: v2\.0\.0 serves again, its data restored in place from pre-upgrade backup/,
    );
    const step = (name: string) => op.steps.find((s) => s.name === name)!;
    assert.equal(step('migrate').status, 'failed');
    assert.match(step('instances').detail!, /^skipped/);
    assert.match(step('rollback-data').detail!, /restored in place/);
    assert.equal(step('rollback-check').status, 'succeeded');

    assert.deepEqual(await notesDigest(acme()), before);
    assert.match((await product(acme(), '/')).text, /v2\.0\.0/);
    assert.equal((await product(acme(), '/api/uploads/logo.txt')).text, 'logo');
    const inst = (await api('/instances/prod/acme')).body as {
      instance: Record<string, unknown>;
      events: Array<{ kind: string; message: string }>;
    };
    assert.equal(inst.instance.status, 'healthy');
    assert.equal(inst.instance.version, 'v2.0.0');
    assert.ok(
      inst.events.some((e) => e.kind === 'instance-upgrade-rolled-back' && /v2\.1\.0/.test(e.message)),
    );
    assert.equal(gitLog(repo.dir).length, commits, 'no config bump was committed');
  });

  test('bad input is refused with a clear error and nothing changes', async () => {
    const commits = gitLog(repo.dir).length;
    const cases: Array<[string, unknown, number, RegExp]> = [
      ['/instances/prod/nobody/upgrade', { to: 'v2.0.0' }, 404, /No instance prod\/nobody/],
      ['/instances/prod/acme/upgrade', { to: 'v9.9.9' }, 400, /no release v9\.9\.9/],
      ['/instances/prod/acme/upgrade', { to: 'v3.0.0' }, 400, /not public/],
      ['/instances/prod/acme/upgrade', { to: 'v1.1.0' }, 400, /older/],
      [
        '/instances',
        { id: 'x1', env: 'prod', customer: 'x', type: 'production', ttl: '2h' },
        400,
        /cannot have a TTL/,
      ],
      [
        '/instances',
        { id: 'x2', env: 'prod', customer: 'other', type: 'trial', domain: `acme.${repo.baseDomain}` },
        400,
        /taken by instance\/prod\/acme/,
      ],
      [
        '/instances',
        { id: 'x3', env: 'nowhere', customer: 'x', type: 'trial' },
        400,
        /No environment 'nowhere'/,
      ],
      ['/instances', { id: 'x4', env: 'prod', customer: 'Bad Customer', type: 'trial' }, 400, /customer/],
      ['/instances/prod/acme/delete', {}, 400, /--confirm acme/],
    ];
    for (const [path, body, status, message] of cases) {
      const r = await api(path, body);
      assert.equal(r.status, status, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.match(JSON.stringify(r.body), message);
    }
    assert.equal(gitLog(repo.dir).length, commits);
    assert.deepEqual(
      (await cp.store.listDeployments()).map((d) => d.key).filter((k) => /x\d/.test(k)),
      [],
    );
  });

  test('a second playbook on a busy instance is refused naming the running operation', async () => {
    const first = await api('/instances/prod/acme/delete', { confirm: 'acme', dryRun: true });
    assert.equal(first.status, 202);
    const create = await api('/instances', {
      id: 'busy',
      env: 'prod',
      customer: 'busy',
      type: 'internal',
      version: 'v2.0.0',
    });
    assert.equal(create.status, 202);
    const second = await api('/instances/prod/busy/upgrade', { to: 'v2.1.0' });
    assert.equal(second.status, 409, JSON.stringify(second.body));
    assert.match(JSON.stringify(second.body), new RegExp(String(create.body.id)));
    await cp.engine.waitFor(String(create.body.id), 300_000);
  });

  test('the reconciler finds nothing to redo after the playbooks', async () => {
    const result = await cp.reconcileNow('test');
    assert.deepEqual(
      result.actions.filter((a) => a.key.startsWith('instance/prod/acme')),
      [],
      JSON.stringify(result.actions),
    );
  });

  test('a 1-minute TTL: a warning event, then the instance is gone with its final backup listed', async () => {
    const created = await ttlCreate!;
    assert.equal(created.status, 'succeeded', created.error);
    await eventually('the expiry warning', 60_000, async () => {
      const events = await cp.store.listEvents({ deploymentKey: 'instance/dev/dev-bob', limit: 50 });
      return events.some((e) => e.kind === 'instance-expiring') ? true : undefined;
    });
    await eventually('the instance to be deleted', 150_000, async () =>
      (await api('/instances/dev/dev-bob')).status === 404 ? true : undefined,
    );
    const backups = (await api('/instances/dev/dev-bob/backups')).body.backups as Array<{
      id: string;
      reason: string;
    }>;
    assert.ok(
      backups.some((b) => /-final-base$/.test(b.id) && /TTL ran out/.test(b.reason)),
      JSON.stringify(backups),
    );
    assert.ok(gitLog(repo.dir).some((l) => /instance dev\/dev-bob: delete \(TTL expired\)/.test(l)));
  });
});
