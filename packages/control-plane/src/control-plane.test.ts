/**
 * The control plane and the local runtime against real things: an embedded state PostgreSQL, the real
 * Release Registry as a supervised process with its own cluster, the proxy, and the HTTP API.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { findFreePort } from '@msp/runtime-local';
import { startControlPlane, type ControlPlane } from './server.js';
import { createLocalRuntime } from './targets/local/index.js';
import { createFixtureRepo, eventually, requestVia, type FixtureRepo } from './testing/fixture-repo.js';

describe('control plane with the local runtime', () => {
  let repo: FixtureRepo;
  let cp: ControlPlane;
  let proxyPort: number;
  const key = 'releaseregistry/dev';

  const api = async (path: string, init: RequestInit = {}, token = cp.adminToken) => {
    const res = await fetch(`${cp.url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...(init.headers ?? {}),
      },
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> };
  };
  const viaProxy = (
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ) => requestVia(proxyPort, repo.registryDomain, path, init);

  before(async () => {
    repo = await createFixtureRepo({ name: 'cp' });
    proxyPort = await findFreePort();
    cp = await startControlPlane({
      repoDir: repo.dir,
      port: await findFreePort(),
      createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort }),
      log: () => undefined,
    });
    await eventually('the registry to be healthy', 90_000, async () =>
      (await cp.store.getDeployment(key))?.status === 'healthy' ? true : undefined,
    );
  });

  after(async () => {
    await cp?.stop();
    if (repo) await rm(repo.dir, { recursive: true, force: true });
  });

  test('the admin token file is readable by its owner only', async () => {
    assert.equal((await stat(cp.dataDir.adminToken)).mode & 0o777, 0o600);
    assert.equal((await stat(cp.dataDir.secretKey)).mode & 0o777, 0o600);
  });

  test('every API call needs the bearer token; errors are JSON with a code and a message', async () => {
    const none = await fetch(`${cp.url}/api/v1/status`);
    assert.equal(none.status, 401);
    const body = (await none.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'unauthenticated');
    assert.match(body.error.message, /Authorization: Bearer/);
    assert.equal((await api('/api/v1/status', {}, 'wrong')).status, 401);
    assert.equal((await fetch(`${cp.url}/metrics`)).status, 401);
    const missing = await api('/api/v1/operations/00000000-0000-0000-0000-000000000000');
    assert.equal(missing.status, 404);
    const bad = await api('/api/v1/pg/connect', { method: 'POST', body: '{"deployment": 5}' });
    assert.equal(bad.status, 400);
    assert.match(String((bad.body.error as { message: string }).message), /deployment/);
  });

  test('status, the OpenAPI document and metrics describe the running deployment', async () => {
    const { body } = await api('/api/v1/status');
    const d = (body.deployments as Array<Record<string, unknown>>).find((x) => x.key === key)!;
    assert.equal(d.status, 'healthy');
    const runtime = d.runtime as {
      instances: Array<{ state: string }>;
      urls: string[];
      database: { databases: string[] };
    };
    assert.equal(runtime.instances.length, 1);
    assert.equal(runtime.instances[0]!.state, 'healthy');
    assert.ok(runtime.urls.some((u) => u.includes(repo.registryDomain)));
    assert.deepEqual(runtime.database.databases, ['releaseregistry']);
    const openapi = await api('/api/v1/openapi.json');
    assert.equal(openapi.body.openapi, '3.1.0');
    assert.ok((openapi.body.paths as Record<string, unknown>)['/pg/connect']);
    const metrics = await fetch(`${cp.url}/metrics`, {
      headers: { authorization: `Bearer ${cp.adminToken}` },
    });
    assert.match(await metrics.text(), /msp_deployments\{status="healthy"\} 1/);
  });

  test('the Release Registry answers through the proxy: create, read, promote, latest; 401 and 400', async () => {
    const token = await cp.store.getSecret(key, 'env:releaseregistry-token');
    assert.ok(token);
    const list = await viaProxy('/v1/releases');
    assert.equal(list.status, 200);
    assert.ok(Array.isArray(list.json()));

    const unauth = await viaProxy('/v1/releases', {
      method: 'POST',
      body: JSON.stringify({ name: 'product', version: 'v1.0.0', git_sha: 'abcdef1' }),
    });
    assert.equal(unauth.status, 401);
    const malformed = await viaProxy('/v1/releases', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: '{"name": "product", "version": "1.0"',
    });
    assert.equal(malformed.status, 400);
    assert.ok(malformed.json<{ error: { message: string } }>().error.message.length > 0);

    const created = await viaProxy('/v1/releases', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ name: 'product', version: 'v1.10.0', git_sha: 'abcdef1' }),
    });
    assert.equal(created.status, 201);
    const read = (await viaProxy('/v1/releases/product/v1.10.0')).json<{ public: boolean }>();
    assert.equal(read.public, false);
    assert.equal((await viaProxy('/v1/releases/product/latest')).status, 404);
    const promoted = await viaProxy('/v1/releases/product/v1.10.0/promote', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(promoted.status, 200);
    const latest = (await viaProxy('/v1/releases/product/latest')).json<{ version: string }>();
    assert.equal(latest.version, 'v1.10.0');
  });

  test('pg connect: read-only credentials can SELECT but not INSERT; write access can INSERT', async () => {
    const read = await api('/api/v1/pg/connect', {
      method: 'POST',
      body: JSON.stringify({ deployment: key, access: 'read', sessionTimeoutSeconds: 300 }),
    });
    assert.equal(read.status, 201);
    const r = read.body as { user: string; password: string; host: string; port: number; validUntil: string };
    assert.ok(Date.parse(r.validUntil) > Date.now());
    const reader = new pg.Client({
      host: r.host,
      port: r.port,
      user: r.user,
      password: r.password,
      database: 'releaseregistry',
    });
    await reader.connect();
    try {
      const rows = await reader.query('select version from releaseregistry.releases');
      assert.ok(rows.rowCount! >= 1);
      await assert.rejects(
        reader.query(
          `insert into releaseregistry.releases (name, version, git_sha) values ('x', 'v0.0.1', 'abcdef1')`,
        ),
        /permission denied|read-only transaction/,
      );
    } finally {
      await reader.end();
    }
    const write = await api('/api/v1/pg/connect', {
      method: 'POST',
      body: JSON.stringify({ deployment: key, access: 'write', sessionTimeoutSeconds: 300 }),
    });
    const w = write.body as { user: string; password: string; host: string; port: number };
    const writer = new pg.Client({
      host: w.host,
      port: w.port,
      user: w.user,
      password: w.password,
      database: 'releaseregistry',
    });
    await writer.connect();
    try {
      await writer.query('create table if not exists notes (body text)');
      await writer.query(`insert into notes values ('written through msp pg connect --write-access')`);
    } finally {
      await writer.end();
    }
  });

  test('pg connect credentials stop working when the session timeout passes', async () => {
    const res = await api('/api/v1/pg/connect', {
      method: 'POST',
      body: JSON.stringify({ deployment: key, access: 'read', sessionTimeoutSeconds: 1 }),
    });
    const c = res.body as { user: string; password: string; host: string; port: number };
    const login = async () => {
      const client = new pg.Client({
        host: c.host,
        port: c.port,
        user: c.user,
        password: c.password,
        database: 'releaseregistry',
      });
      await client.connect();
      await client.end();
    };
    await eventually('the temporary role to expire', 20_000, async () => {
      try {
        await login();
        return undefined;
      } catch {
        return true;
      }
    });
  });

  test('kill -9 of a service process: back and healthy within 10 s, and status shows the restart', async () => {
    const before = cp.runtime.status(key)!.instances[0]!;
    assert.ok(before.pid);
    const killedAt = Date.now();
    process.kill(before.pid, 'SIGKILL');
    const after = await eventually('the instance to be healthy again', 10_000, () => {
      const i = cp.runtime.status(key)?.instances[0];
      return i && i.pid !== before.pid && i.state === 'healthy' ? i : undefined;
    });
    assert.ok(Date.now() - killedAt < 10_000);
    assert.equal(after.restarts, before.restarts + 1);
    const restarts = await eventually('the restart to be recorded', 5000, async () => {
      const d = await cp.store.getDeployment(key);
      return d && d.restarts >= 1 ? d.restarts : undefined;
    });
    assert.ok(restarts >= 1);
    assert.equal((await viaProxy('/v1/releases/product/latest')).status, 200);
  });

  test('a deployment removed from the repo is stopped with its data kept; back in the repo it runs with its data', async () => {
    const serviceDir = join(repo.dir, 'services', 'releaseregistry');
    const aside = `${repo.dir}-aside`;
    await rename(serviceDir, aside);
    try {
      await cp.reconcileNow('test');
      await eventually('the deployment to be stopped', 30_000, async () =>
        (await cp.store.getDeployment(key))?.status === 'stopped' ? true : undefined,
      );
      assert.equal((await cp.store.getDeployment(key))?.desiredState, 'stopped');
      assert.equal(cp.runtime.isRunning(key), false);
      assert.equal((await viaProxy('/v1/releases')).status, 404, 'its route is gone');
      await stat(join(cp.dataDir.clusters, 'releaseregistry--dev', 'data', 'PG_VERSION')); // data kept
    } finally {
      await rename(aside, serviceDir);
    }
    await cp.reconcileNow('test');
    await eventually('the deployment to be healthy again', 60_000, async () =>
      (await cp.store.getDeployment(key))?.status === 'healthy' ? true : undefined,
    );
    const latest = (await viaProxy('/v1/releases/product/latest')).json<{ version: string }>();
    assert.equal(latest.version, 'v1.10.0');
  });

  test('logs of the deployment are kept and readable through the API', async () => {
    const res = await fetch(`${cp.url}/api/v1/logs/${key}`, {
      headers: { authorization: `Bearer ${cp.adminToken}` },
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /\/v1\/releases/);
    const token = await cp.store.getSecret(key, 'env:releaseregistry-token');
    const diag = await cp.store.getSecret(key, 'diagnostics');
    assert.ok(!text.includes(token!), 'the registry token must not appear in logs');
    assert.ok(!text.includes(diag!), 'the diagnostics secret must not appear in logs');
  });
});
