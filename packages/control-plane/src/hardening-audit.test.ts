/**
 * Issue 9's findings tried as variants on every route, against one real control plane (all modules): a
 * NUL byte or a lone surrogate in every path parameter, query parameter and JSON string of every route the
 * OpenAPI document lists is a 400, never a 5xx; the audit trail still records such a refused call (and
 * does not lose the other calls written with it); the dashboard's routes answer bad input with a 4xx too
 * (a NUL in a session cookie, a sign-in token or a page's id) and refuse an oversize form with 413.
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-explicit-any -- OpenAPI JSON */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { findFreePort } from '@msp/runtime-local';
import { defaultModules } from './modules.js';
import { startControlPlane, type ControlPlane } from './server.js';
import { createLocalRuntime } from './targets/local/index.js';
import { addPlainService, createFixtureRepo, eventually, type FixtureRepo } from './testing/fixture-repo.js';

/** Whether a TCP connection to host:port is refused (nothing listens there for that address). */
const refused = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host, port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });

type Schema = Record<string, any>;

/** `schema` with its `$ref`s followed into `doc`. */
function resolved(doc: Schema, schema: Schema | undefined): Schema {
  let s = schema ?? {};
  while (s.$ref)
    s = (s.$ref as string)
      .split('/')
      .slice(1)
      .reduce((o: Schema, k) => o[k] as Schema, doc);
  return s;
}

/** A request body for `schema` where every string is valid-looking, except the one at `bad` (a path). */
function sampleOf(
  doc: Schema,
  schema: Schema | undefined,
  bad: string | null,
  value: string,
  at = '',
): unknown {
  const s = resolved(doc, schema);
  if (s.anyOf || s.oneOf) return sampleOf(doc, (s.anyOf ?? s.oneOf)[0], bad, value, at);
  if (s.allOf)
    return Object.assign({}, ...(s.allOf as Schema[]).map((x) => sampleOf(doc, x, bad, value, at)));
  const type = Array.isArray(s.type) ? (s.type as string[]).find((t) => t !== 'null') : s.type;
  if (type === 'object' || s.properties) {
    return Object.fromEntries(
      Object.entries((s.properties ?? {}) as Record<string, Schema>).map(([k, v]) => [
        k,
        sampleOf(doc, v, bad, value, `${at}.${k}`),
      ]),
    );
  }
  if (type === 'array') return [sampleOf(doc, s.items, bad, value, `${at}[]`)];
  if (type === 'integer' || type === 'number') return s.minimum ?? 1;
  if (type === 'boolean') return false;
  if (at === bad) return s.enum ? `${String(s.enum[0])}${value}` : `releaseregistry${value}`;
  return s.enum ? s.enum[0] : (s.default ?? 'releaseregistry/dev');
}

/** The paths of every string (or enum) in `schema`. */
function stringsOf(doc: Schema, schema: Schema | undefined, at = '', out: string[] = []): string[] {
  const s = resolved(doc, schema);
  if (s.anyOf || s.oneOf) return stringsOf(doc, (s.anyOf ?? s.oneOf)[0], at, out);
  if (s.allOf) for (const x of s.allOf as Schema[]) stringsOf(doc, x, at, out);
  const type = Array.isArray(s.type) ? (s.type as string[]).find((t) => t !== 'null') : s.type;
  if (type === 'object' || s.properties) {
    for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, Schema>))
      stringsOf(doc, v, `${at}.${k}`, out);
  } else if (type === 'array') stringsOf(doc, s.items, `${at}[]`, out);
  else if (type === 'string' || s.enum) out.push(at);
  return out;
}

describe('hardening variants (issue 9, every route)', () => {
  let repo: FixtureRepo;
  let cp: ControlPlane;

  const call = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${cp.url}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        authorization: `Bearer ${cp.adminToken}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body } : {}),
    });
    return { status: res.status, text: await res.text() };
  };

  before(async () => {
    repo = await createFixtureRepo({ name: 'hardening-audit' });
    await addPlainService(repo); // a service without a database
    cp = await startControlPlane({
      repoDir: repo.dir,
      port: await findFreePort(),
      createRuntime: async (deps) => createLocalRuntime({ ...deps, proxyPort: await findFreePort() }),
      modules: defaultModules(),
      log: () => undefined,
    });
  });

  after(async () => {
    await cp?.stop();
    if (repo) await rm(repo.dir, { recursive: true, force: true });
  });

  // A NUL byte is refused (PostgreSQL cannot store it); a lone surrogate is stored as U+FFFD, but must not
  // break anything either. The NUL walk runs last: its answers are all 400s, the other one's may act.
  for (const [name, bad, encoded, refused] of [
    ['a lone surrogate', '\ud800', '%ED%A0%80', (s: number) => s < 500],
    ['a NUL byte', '\u0000', '%00', (s: number) => s === 400],
  ] as const) {
    test(`${name} in any path parameter, query parameter or JSON string of any route is ${name === 'a NUL byte' ? 'a 400' : 'never a 5xx'}`, async () => {
      const doc = JSON.parse((await call('GET', '/api/v1/openapi.json')).text) as Schema;
      const wrong: string[] = [];
      let tried = 0;
      for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Schema>>)) {
        for (const [m, op] of Object.entries(ops)) {
          const method = m.toUpperCase();
          const params = ((op.parameters ?? []) as Schema[]).map((p) => p);
          const fill = (badParam?: string) =>
            `/api/v1${path.replace(/\{(\w+)\}/g, (_, k: string) =>
              k === badParam
                ? `x${encoded}`
                : k === 'key'
                  ? 'releaseregistry%2Fdev'
                  : k === 'env'
                    ? 'dev'
                    : 'x',
            )}`;
          const schema = op.requestBody?.content?.['application/json']?.schema as Schema | undefined;
          const validBody = schema ? JSON.stringify(sampleOf(doc, schema, null, bad)) : undefined;
          const attempts: Array<[string, string, string | undefined]> = [
            ...params
              .filter((p) => p.in === 'path')
              .map((p): [string, string, string | undefined] => [
                `path ${p.name}`,
                fill(p.name as string),
                validBody,
              ]),
            ...params
              .filter((p) => p.in === 'query')
              .map((p): [string, string, string | undefined] => [
                `query ${p.name}`,
                `${fill()}?${p.name}=a${encoded}`,
                validBody,
              ]),
            ...(schema ? stringsOf(doc, schema) : []).map((leaf): [string, string, string | undefined] => [
              `body ${leaf}`,
              fill(),
              JSON.stringify(sampleOf(doc, schema, leaf, bad)),
            ]),
          ];
          for (const [what, url, body] of attempts) {
            tried++;
            const r = await call(method, url, body);
            if (!refused(r.status))
              wrong.push(`${method} ${path} (${what}): ${r.status} ${r.text.slice(0, 160)}`);
          }
        }
      }
      assert.deepEqual(wrong, [], `${wrong.length} of ${tried} attempts`);
      assert.ok(tried > 120, `only ${tried} attempts: the OpenAPI walk found too little`);
    });
  }

  test('a refused call with a NUL byte is still in the audit trail, and so are the calls written with it', async () => {
    const marker = `audit-nul-${Date.now()}`;
    const answers = await Promise.all([
      call('POST', '/api/v1/deployments/a%00b/deploy', '{}'),
      call('POST', '/api/v1/backups', JSON.stringify({ deployment: `x\u0000${marker}` })),
      ...Array.from({ length: 5 }, (_, i) => call('POST', `/api/v1/deployments/${marker}-${i}/stop`, '{}')),
    ]);
    assert.deepEqual(
      answers.map((a) => a.status),
      [400, 400, 404, 404, 404, 404, 404],
    );
    const { records } = JSON.parse((await call('GET', '/api/v1/audit?action=api.post&limit=200')).text) as {
      records: Array<{ target: string | null; data: { status?: number; error?: string } }>;
    };
    const targets = records.map((r) => r.target ?? '');
    assert.ok(
      targets.some((t) => t.startsWith('/api/v1/deployments/a') && t.endsWith('b/deploy')),
      `the NUL path is recorded: ${targets.slice(0, 10).join(', ')}`,
    );
    for (let i = 0; i < 5; i++) {
      assert.ok(targets.includes(`/api/v1/deployments/${marker}-${i}/stop`), `call ${i} is recorded`);
    }
    const verify = JSON.parse((await call('GET', '/api/v1/audit/verify')).text) as { ok: boolean };
    assert.equal(verify.ok, true);
  });

  test("no listener of MSP answers on this machine's own non-loopback address: instances, API, proxy, PostgreSQL", async (t) => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && !a.internal && a.family === 'IPv4')?.address;
    if (!external) return t.skip('this machine has no non-loopback IPv4 address');
    const key = 'releaseregistry/dev';
    const status = await eventually('the registry to be healthy', 120_000, async () =>
      (await cp.store.getDeployment(key))?.status === 'healthy' ? cp.runtime.status(key) : undefined,
    );
    const ports = {
      instance: status.instances[0]!.port!,
      api: Number(new URL(cp.url).port),
      proxy: Number(new URL(cp.runtime.proxyUrl()!).port),
      database: status.database!.port,
    };
    for (const [what, port] of Object.entries(ports)) {
      assert.equal(await refused('127.0.0.1', port), false, `${what} answers on loopback`);
      assert.equal(await refused(external, port), true, `${what} (:${port}) refuses ${external}`);
    }
  });

  test('a service without a database: a drill or a restore says so (412) instead of acting on nothing', async () => {
    await eventually('plain/dev to be known', 30_000, async () =>
      (await cp.store.getDeployment('plain/dev')) ? true : undefined,
    );
    for (const [path, body] of [
      ['/api/v1/backups/drills', { deployment: 'plain/dev' }],
      ['/api/v1/restores', { deployment: 'plain/dev', latest: true, into: 'copy' }],
      ['/api/v1/restores', { deployment: 'plain/dev', latest: true, inPlace: true }],
      ['/api/v1/backups', { deployment: 'plain/dev' }],
    ] as const) {
      const r = await call('POST', path, JSON.stringify(body));
      assert.equal(r.status, 412, `${path} ${JSON.stringify(body)}: ${r.status} ${r.text.slice(0, 200)}`);
      assert.match(r.text, /plain\/dev declares no database/);
    }
    assert.equal(await cp.store.getDeployment('plain/copy'), undefined, 'no clone of nothing');
  });

  test('the dashboard: a NUL in the cookie or the sign-in token is no session (never a 500)', async () => {
    const signIn = await call('POST', '/ui/sign-in', 'token=%00', {
      authorization: '',
      'content-type': 'application/x-www-form-urlencoded',
    });
    assert.equal(signIn.status, 401);
    for (const cookie of ['msp_session=%00', `msp_session=${cp.adminToken}%00`, 'msp_session=a%0Ab']) {
      const page = await call('GET', '/', undefined, { authorization: '', cookie });
      assert.equal(page.status, 303, `${cookie}: ${page.status} ${page.text.slice(0, 120)}`);
      const stream = await call('GET', '/ui/stream', undefined, { authorization: '', cookie });
      assert.equal(stream.status, 401, `${cookie} on the stream`);
    }
  });

  test("the dashboard: a page's bad id is the API's 400, not a 502", async () => {
    const cookie = `msp_session=${cp.adminToken}`;
    for (const path of [
      '/ui/services/%00',
      '/ui/deployment?key=%00',
      '/ui/operations/%00',
      '/ui/fleets/%00',
      '/ui/fleets/%00/report',
      '/ui/audit?actor=%00',
    ]) {
      const page = await call('GET', path, undefined, { authorization: '', cookie });
      assert.equal(page.status, 400, `${path}: ${page.status}`);
      assert.match(page.text, /NUL byte/, path);
    }
  });

  test('the dashboard: a form past its limit is a 413 before it is read', async () => {
    const cookie = `msp_session=${cp.adminToken}`;
    const big = `token=${'a'.repeat(2 * 1024 * 1024)}`;
    for (const path of ['/ui/sign-in', '/ui/act/deploy']) {
      const r = await call('POST', path, big, {
        authorization: '',
        cookie,
        'content-type': 'application/x-www-form-urlencoded',
      });
      assert.equal(r.status, 413, `${path}: ${r.status}`);
    }
  });
});
