import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { findFreePort } from '@msp/runtime-local';
import { startTestCluster, type TestCluster } from '@msp/runtime-local/testing';
import type { Hono } from 'hono';
import {
  createReleaseRegistryApp,
  createReleaseRegistryClient,
  migrateReleaseRegistry,
  ReleaseRegistryError,
} from './index.js';
import type { Release } from './index.js';

const TOKEN = 'test-write-token';
const SHA = '3f2a9c1d';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

let tc: TestCluster;
let pool: pg.Pool;

before(async () => {
  tc = await startTestCluster({ databases: ['releaseregistry'] });
  // The workload role, as the deployed service connects: it owns the database, nothing more.
  pool = new pg.Pool({ connectionString: tc.connectionString('workload', 'releaseregistry'), max: 4 });
});

after(async () => {
  await pool?.end();
  await tc?.cleanup();
});

let schemas = 0;
/** Every test gets its own schema: isolated data, and the migration path exercised each time. */
async function freshApp(): Promise<Hono> {
  const schema = `rr_test_${++schemas}`;
  await migrateReleaseRegistry(pool, schema);
  return createReleaseRegistryApp({ pool, schema, token: TOKEN, diagnosticsSecret: 'diag' });
}

function post(app: Hono, path: string, body?: unknown, token: string | null = TOKEN): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return Promise.resolve(
    app.request(path, {
      method: 'POST',
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
}

async function create(app: Hono, name: string, version: string, extra: object = {}): Promise<Release> {
  const res = await post(app, '/v1/releases', { name, version, git_sha: SHA, ...extra });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as Release;
}

async function promote(app: Hono, name: string, version: string): Promise<Response> {
  return post(app, `/v1/releases/${name}/${version}/promote`);
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  assert.equal(typeof body.error.message, 'string');
  return body.error;
}

void describe('release registry API', () => {
  void it('registers an internal release and reads it back', async () => {
    const app = await freshApp();
    const created = await create(app, 'sampleproduct', 'v1.2.3', {
      git_sha: 'ABCDEF0123',
      tags: ['insiders'],
      artifacts: [{ digest: DIGEST, url: 'file:///artifacts/x.tgz', kind: 'bundle' }],
    });
    assert.equal(created.name, 'sampleproduct');
    assert.equal(created.version, 'v1.2.3');
    assert.equal(created.git_sha, 'abcdef0123');
    assert.equal(created.public, false);
    assert.equal(created.is_development, false);
    assert.equal(created.promoted_at, null);
    assert.deepEqual(created.tags, ['insiders']);
    assert.deepEqual(created.artifacts, [{ digest: DIGEST, url: 'file:///artifacts/x.tgz', kind: 'bundle' }]);
    assert.equal(typeof created.id, 'number');
    assert.ok(!Number.isNaN(Date.parse(created.created_at)));

    const res = await app.request('/v1/releases/sampleproduct/v1.2.3');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), created);

    const missing = await app.request('/v1/releases/sampleproduct/v9.9.9');
    assert.equal(missing.status, 404);
    assert.equal((await errorOf(missing)).code, 'not_found');
  });

  void it('refuses a version that already exists with 409, also when two requests race', async () => {
    const app = await freshApp();
    await create(app, 'p', 'v1.0.0');
    const again = await post(app, '/v1/releases', { name: 'p', version: 'v1.0.0', git_sha: SHA });
    assert.equal(again.status, 409);
    const error = await errorOf(again);
    assert.equal(error.code, 'conflict');
    assert.match(error.message, /already exists/);

    const racing = await Promise.all(
      [1, 2, 3].map(() => post(app, '/v1/releases', { name: 'p', version: 'v1.1.0', git_sha: SHA })),
    );
    assert.deepEqual(racing.map((r) => r.status).sort(), [201, 409, 409]);
  });

  void it('needs the bearer token for writes (401 JSON without it or with a wrong one), not for reads', async () => {
    const app = await freshApp();
    for (const token of [null, 'wrong-token', '', `${TOKEN}x`]) {
      const res = await post(app, '/v1/releases', { name: 'p', version: 'v1.0.0', git_sha: SHA }, token);
      assert.equal(res.status, 401, `token ${String(token)}`);
      const error = await errorOf(res);
      assert.equal(error.code, 'unauthenticated');
      assert.match(error.message, /Authorization: Bearer/);
    }
    await create(app, 'p', 'v1.0.0');
    assert.equal((await post(app, '/v1/releases/p/v1.0.0/promote', undefined, null)).status, 401);
    assert.equal((await post(app, '/v1/releases/p/v1.0.0/promote', undefined, 'nope')).status, 401);
    assert.equal((await app.request('/v1/releases/p')).status, 200);
  });

  void it('takes a version at its caps: a 64-character prerelease of 8 identifiers, 2147483647.2147483647.2147483647', async () => {
    const app = await freshApp();
    const prerelease = `${'a'.repeat(50)}.b.c.d.e.f.g.h`;
    assert.equal(prerelease.length, 64);
    assert.equal((await create(app, 'p', `v1.0.0-${prerelease}`)).version, `v1.0.0-${prerelease}`);
    const max = 'v2147483647.2147483647.2147483647';
    assert.equal((await create(app, 'p', max)).version, max);
  });

  void it('answers a malformed body or field with 400 invalid_input naming the field and the fix', async () => {
    const app = await freshApp();
    const notJson = await post(app, '/v1/releases', '{"name": "p",');
    assert.equal(notJson.status, 400);
    const e1 = await errorOf(notJson);
    assert.equal(e1.code, 'invalid_input');
    assert.match(e1.message, /not valid JSON/);

    const badFields = await post(app, '/v1/releases', { name: 'Bad_Name', version: '1.2', git_sha: 'zz' });
    assert.equal(badFields.status, 400);
    const e2 = await errorOf(badFields);
    assert.match(e2.message, /name: must be lowercase/);
    assert.match(e2.message, /version: must look like vMAJOR\.MINOR\.PATCH/);
    assert.match(e2.message, /git_sha: must be a git commit SHA/);

    // Every version part is capped: a 5000-character prerelease is refused, naming the cap.
    const long = await post(app, '/v1/releases', {
      name: 'p',
      version: `v1.0.0-${'a'.repeat(5000)}`,
      git_sha: SHA,
    });
    assert.equal(long.status, 400);
    assert.match((await errorOf(long)).message, /version: .*prerelease .* at most 64 characters, not 5000/);
    const parts = await errorOf(
      await post(app, '/v1/releases', { name: 'p', version: 'v1.0.0-a.b.c.d.e.f.g.h.i', git_sha: SHA }),
    );
    assert.match(parts.message, /at most 8 dot-separated identifiers, not 9/);
    const huge = await errorOf(
      await post(app, '/v1/releases', { name: 'p', version: 'v2147483648.0.0', git_sha: SHA }),
    );
    assert.match(huge.message, /MAJOR, MINOR and PATCH of at most 2147483647/);
    assert.equal((await app.request(`/v1/releases/p/v1.0.0-${'a'.repeat(65)}`)).status, 400);

    const missing = await errorOf(await post(app, '/v1/releases', { name: 'p' }));
    assert.match(missing.message, /version: is required/);

    const unknown = await errorOf(
      await post(app, '/v1/releases', { name: 'p', version: 'v1.0.0', git_sha: SHA, public: true }),
    );
    assert.match(unknown.message, /unknown field "public"/);

    const badArtifact = await errorOf(
      await post(app, '/v1/releases', {
        name: 'p',
        version: 'v1.0.0',
        git_sha: SHA,
        artifacts: [{ digest: 'md5:1', url: 'x', kind: 'bundle' }],
      }),
    );
    assert.match(badArtifact.message, /artifacts\.0\.digest: must be "sha256:"/);

    const badPath = await app.request('/v1/releases/p/1.0.0');
    assert.equal(badPath.status, 400);
    assert.match((await errorOf(badPath)).message, /^version: /);
    // Nothing was stored by any of the above.
    assert.deepEqual(await (await app.request('/v1/releases')).json(), []);
  });

  void it('lists newest first by semantic version: v1.10.0 > v1.9.0, v2.0.0-rc.1 < v2.0.0', async () => {
    const app = await freshApp();
    for (const v of ['v1.9.0', 'v2.0.0-rc.1', 'v1.10.0', 'v2.0.0', 'v1.2.3', 'v2.0.0-rc.10', 'v2.0.0-beta']) {
      await create(app, 'p', v);
    }
    await create(app, 'another', 'v0.1.0');
    const res = await app.request('/v1/releases/p');
    assert.equal(res.status, 200);
    const versions = ((await res.json()) as Release[]).map((r) => r.version);
    assert.deepEqual(versions, [
      'v2.0.0',
      'v2.0.0-rc.10',
      'v2.0.0-rc.1',
      'v2.0.0-beta',
      'v1.10.0',
      'v1.9.0',
      'v1.2.3',
    ]);

    const all = (await (await app.request('/v1/releases')).json()) as Release[];
    assert.deepEqual(
      all.map((r) => `${r.name}@${r.version}`),
      ['another@v0.1.0', ...versions.map((v) => `p@${v}`)],
    );
    assert.deepEqual(await (await app.request('/v1/releases/nothing-here')).json(), []);
  });

  void it('latest is the newest PUBLIC release, 404 when none is public', async () => {
    const app = await freshApp();
    const none = await app.request('/v1/releases/p/latest');
    assert.equal(none.status, 404);
    assert.match((await errorOf(none)).message, /no public release/);

    for (const v of ['v1.9.0', 'v1.10.0', 'v2.0.0-rc.1', 'v2.0.0']) await create(app, 'p', v);
    const latest = async (): Promise<string> => {
      const res = await app.request('/v1/releases/p/latest');
      assert.equal(res.status, 200);
      return ((await res.json()) as Release).version;
    };
    assert.equal(
      (await app.request('/v1/releases/p/latest')).status,
      404,
      'internal releases are not latest',
    );
    assert.equal((await promote(app, 'p', 'v1.9.0')).status, 200);
    assert.equal(await latest(), 'v1.9.0', 'v1.10.0 exists but is internal');
    await promote(app, 'p', 'v1.10.0');
    assert.equal(await latest(), 'v1.10.0');
    await promote(app, 'p', 'v2.0.0-rc.1');
    assert.equal(await latest(), 'v2.0.0-rc.1');
    await promote(app, 'p', 'v2.0.0');
    assert.equal(await latest(), 'v2.0.0');
  });

  void it('promotes: public with promoted_at; idempotent; refused for a development release; 404 when unknown', async () => {
    const app = await freshApp();
    await create(app, 'p', 'v1.0.0');
    const first = await promote(app, 'p', 'v1.0.0');
    assert.equal(first.status, 200);
    const promoted = (await first.json()) as Release;
    assert.equal(promoted.public, true);
    assert.ok(promoted.promoted_at !== null && !Number.isNaN(Date.parse(promoted.promoted_at)));

    const second = await promote(app, 'p', 'v1.0.0');
    assert.equal(second.status, 200);
    assert.deepEqual(await second.json(), promoted, 'promoting again changes nothing');

    await create(app, 'p', 'v1.1.0', { is_development: true });
    const refused = await promote(app, 'p', 'v1.1.0');
    assert.equal(refused.status, 409);
    const error = await errorOf(refused);
    assert.equal(error.code, 'conflict');
    assert.match(error.message, /development release/);
    const still = (await (await app.request('/v1/releases/p/v1.1.0')).json()) as Release;
    assert.equal(still.public, false);

    const unknown = await promote(app, 'p', 'v9.0.0');
    assert.equal(unknown.status, 404);
  });

  void it('suggests the next patch version as plain text', async () => {
    const app = await freshApp();
    const next = async (product: string, series: string): Promise<string> => {
      const res = await post(app, `/v1/releases/${product}/next/${series}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      return res.text();
    };
    assert.equal(await next('p', '5.3'), 'v5.3.0');
    await create(app, 'p', 'v5.3.0');
    await create(app, 'p', 'v5.3.4');
    await create(app, 'p', 'v5.3.10');
    await create(app, 'p', 'v5.4.0-rc.1');
    await create(app, 'other', 'v5.3.99');
    assert.equal(await next('p', '5.3'), 'v5.3.11');
    assert.equal(await next('p', '5.4'), 'v5.4.0', 'v5.4.0-rc.1 is below v5.4.0, which is next');
    assert.equal(await next('p', '6.0'), 'v6.0.0');

    const bad = await post(app, '/v1/releases/p/next/v5.3');
    assert.equal(bad.status, 400);
    assert.match((await errorOf(bad)).message, /MAJOR\.MINOR/);
  });

  void it('answers unknown routes with 404 JSON', async () => {
    const app = await freshApp();
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/v2/releases'],
      ['DELETE', '/v1/releases/p/v1.0.0'],
      ['GET', '/v1/releases/p/v1.0.0/promote'],
    ] as const) {
      const res = await app.request(path, { method });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal((await errorOf(res)).code, 'not_found');
    }
  });

  void it('serves /-/healthz only with the diagnostics secret, and 503 when the database is away', async () => {
    const app = await freshApp();
    assert.equal((await app.request('/-/healthz')).status, 401);
    assert.equal(
      (await app.request('/-/healthz', { headers: { authorization: 'Bearer nope' } })).status,
      401,
    );
    assert.equal(
      (await app.request('/-/healthz', { headers: { authorization: 'Bearer diag' } })).status,
      200,
    );

    const deadPool = new pg.Pool({ host: '127.0.0.1', port: await findFreePort(), user: 'x', database: 'x' });
    try {
      const dead = createReleaseRegistryApp({
        pool: deadPool,
        token: TOKEN,
        diagnosticsSecret: 'diag',
        log: () => {},
      });
      const res = await dead.request('/-/healthz', { headers: { authorization: 'Bearer diag' } });
      assert.equal(res.status, 503);
      assert.equal((await errorOf(res)).code, 'unavailable');
      const read = await dead.request('/v1/releases');
      assert.equal(read.status, 503);
    } finally {
      await deadPool.end();
    }
  });
});

void describe('migrations', () => {
  void it('run concurrently from two pools: both succeed, applied exactly once', async () => {
    const url = tc.connectionString('workload', 'releaseregistry');
    const pools = [
      new pg.Pool({ connectionString: url, max: 2 }),
      new pg.Pool({ connectionString: url, max: 2 }),
    ];
    try {
      const results = await Promise.all([
        migrateReleaseRegistry(pools[0]!, 'rr_concurrent'),
        migrateReleaseRegistry(pools[1]!, 'rr_concurrent'),
        migrateReleaseRegistry(pools[0]!, 'rr_concurrent'),
        migrateReleaseRegistry(pools[1]!, 'rr_concurrent'),
      ]);
      assert.deepEqual(
        results.map((r) => r.applied.length).sort(),
        [0, 0, 0, 1],
        'one applied the migration, the others found it done',
      );
      assert.ok(results.every((r) => r.current === 1));
      const { rows } = await pool.query<{ version: number }>(
        'SELECT version FROM rr_concurrent.schema_migrations',
      );
      assert.deepEqual(
        rows.map((r) => r.version),
        [1],
      );
      // And once more later: nothing to do.
      assert.deepEqual((await migrateReleaseRegistry(pools[1]!, 'rr_concurrent')).applied, []);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  void it('rejects a schema name that is not a plain identifier', async () => {
    await assert.rejects(migrateReleaseRegistry(pool, 'bad-name; drop'), /not a valid schema name/);
  });
});

void describe('client', () => {
  void it('speaks the API and throws ReleaseRegistryError with status and message on 4xx', async () => {
    const app = await freshApp();
    const viaApp: typeof fetch = async (input, init) => app.request(input, init);
    const client = createReleaseRegistryClient({
      baseUrl: 'http://registry.test/',
      token: TOKEN,
      fetch: viaApp,
    });

    const created = await client.create({ name: 'p', version: 'v1.0.0', git_sha: SHA, tags: ['a'] });
    assert.equal(created.version, 'v1.0.0');
    assert.deepEqual(await client.get('p', 'v1.0.0'), created);
    assert.equal(await client.nextVersion('p', 1, 0), 'v1.0.1');
    await assert.rejects(client.latest('p'), (e: unknown) => {
      assert.ok(e instanceof ReleaseRegistryError);
      assert.equal(e.status, 404);
      assert.equal(e.code, 'not_found');
      return true;
    });
    const promoted = await client.promote('p', 'v1.0.0');
    assert.equal(promoted.public, true);
    assert.deepEqual(await client.latest('p'), promoted);
    assert.deepEqual(
      (await client.list('p')).map((r) => r.version),
      ['v1.0.0'],
    );
    assert.equal((await client.list()).length, 1);

    await assert.rejects(client.create({ name: 'p', version: 'v1.0.0', git_sha: SHA }), (e: unknown) => {
      assert.ok(e instanceof ReleaseRegistryError);
      assert.equal(e.status, 409);
      assert.equal(e.code, 'conflict');
      assert.match(e.message, /already exists/);
      return true;
    });
    await assert.rejects(client.create({ name: 'p', version: '1.0', git_sha: SHA }), { status: 400 });

    const anonymous = createReleaseRegistryClient({ baseUrl: 'http://registry.test', fetch: viaApp });
    await assert.rejects(anonymous.promote('p', 'v1.0.0'), { status: 401, code: 'unauthenticated' });
  });

  void it('reports a registry that does not answer as unavailable, without a status', async () => {
    const client = createReleaseRegistryClient({ baseUrl: `http://127.0.0.1:${await findFreePort()}` });
    await assert.rejects(client.list(), (e: unknown) => {
      assert.ok(e instanceof ReleaseRegistryError);
      assert.equal(e.status, undefined);
      assert.equal(e.code, 'unavailable');
      assert.equal(e.retryable, true);
      assert.match(e.message, /did not answer/);
      return true;
    });
  });
});
