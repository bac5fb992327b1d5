import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { findFreePort } from '@msp/runtime-local';
import { startTestCluster, type TestCluster } from '@msp/runtime-local/testing';

/** `node dist/main.js` as MSP runs it: a real process, real HTTP, the runtime contract's environment. */
const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const SECRET = 'diagnostics-secret-7f3a';
const TOKEN = 'write-token-9c1e';

interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();

function start(env: Record<string, string>): Started {
  const child = spawn(process.execPath, [MAIN], {
    cwd: PACKAGE_DIR,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return { child, output: () => output, exited };
}

/** Resolves when `pattern` shows up in the output; rejects when the process exits first or time runs out. */
async function waitForOutput(started: Started, pattern: RegExp, timeoutMs = 20_000): Promise<void> {
  if (pattern.test(started.output())) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no ${String(pattern)} within ${timeoutMs}ms; output:\n${started.output()}`));
    }, timeoutMs);
    const onData = (): void => {
      if (pattern.test(started.output())) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(
        new Error(`exited with ${String(code)} before ${String(pattern)}; output:\n${started.output()}`),
      );
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      started.child.stdout?.off('data', onData);
      started.child.off('exit', onExit);
    };
    started.child.stdout?.on('data', onData);
    started.child.once('exit', onExit);
  });
}

/**
 * A POST whose body arrives only when `finish()` is called. `Expect: 100-continue` makes the server
 * confirm it has parsed the request (it is in flight) before the body is sent.
 */
function startSlowCreate(
  port: number,
  release: object,
): { headersParsed: Promise<void>; finish: () => void; status: Promise<number | undefined> } {
  const req = request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/v1/releases',
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      expect: '100-continue',
      connection: 'close',
    },
  });
  const headersParsed = new Promise<void>((resolve) => req.once('continue', resolve));
  const status = new Promise<number | undefined>((resolve, reject) => {
    req.once('response', (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.once('error', reject);
  });
  req.flushHeaders();
  return { headersParsed, finish: () => req.end(JSON.stringify(release)), status };
}

let tc: TestCluster;

before(async () => {
  tc = await startTestCluster({ databases: ['releaseregistry'] });
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await tc?.cleanup();
});

async function contractEnv(): Promise<Record<string, string>> {
  const db = tc.cluster.connectionConfig('workload', 'releaseregistry');
  return {
    MSP: 'true',
    ENVIRONMENT_ID: 'test',
    PORT: String(await findFreePort()),
    DIAGNOSTICS_SECRET: SECRET,
    RELEASE_REGISTRY_TOKEN: TOKEN,
    PGHOST: String(db.host),
    PGPORT: String(db.port),
    PGUSER: String(db.user),
    PGPASSWORD: String(db.password),
    // The platform passes both; the service-specific name wins.
    PGDATABASE: 'postgres',
    PGDATABASE_RELEASEREGISTRY: 'releaseregistry',
  };
}

void describe('node dist/main.js', () => {
  void it('serves the runtime contract and the API over HTTP, logs requests without secrets, stops on SIGTERM', async () => {
    const env = await contractEnv();
    const server = start(env);
    await waitForOutput(server, /listening on port/);
    const base = `http://127.0.0.1:${env.PORT}`;

    assert.equal((await fetch(`${base}/-/healthz`)).status, 401);
    assert.equal(
      (await fetch(`${base}/-/healthz`, { headers: { authorization: 'Bearer wrong' } })).status,
      401,
    );
    const healthy = await fetch(`${base}/-/healthz`, { headers: { authorization: `Bearer ${SECRET}` } });
    // Every answer says which release of the registry gave it (the version of its package.json).
    assert.match(healthy.headers.get('release-registry-version') ?? '', /^v\d+\.\d+\.\d+/);
    assert.equal(healthy.status, 200);

    const body = JSON.stringify({ name: 'releaseregistry', version: 'v1.0.0', git_sha: 'abc1234' });
    const anonymous = await fetch(`${base}/v1/releases`, { method: 'POST', body });
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, 'unauthenticated');

    const created = await fetch(`${base}/v1/releases`, {
      method: 'POST',
      body,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    });
    assert.equal(created.status, 201);
    const read = await fetch(`${base}/v1/releases/releaseregistry/v1.0.0`);
    assert.equal(read.status, 200);
    assert.equal(((await read.json()) as { git_sha: string }).git_sha, 'abc1234');

    // The release landed in the database the service-specific variable named, in the registry's schema.
    const rows = await tc.cluster.query<{ version: string }>(
      'SELECT version FROM releaseregistry.releases',
      [],
      'releaseregistry',
    );
    assert.deepEqual(
      rows.map((r) => r.version),
      ['v1.0.0'],
    );

    await waitForOutput(server, /GET \/v1\/releases\/releaseregistry\/v1\.0\.0 200 [0-9.]+ms/);
    assert.match(server.output(), /POST \/v1\/releases 401 /);
    assert.match(server.output(), /POST \/v1\/releases 201 /);
    assert.match(server.output(), /GET \/-\/healthz 200 /);
    assert.doesNotMatch(server.output(), new RegExp(`${SECRET}|${TOKEN}|${env.PGPASSWORD}`));

    // Graceful shutdown: a request in flight when SIGTERM arrives still gets its answer.
    const inFlight = startSlowCreate(Number(env.PORT), {
      name: 'releaseregistry',
      version: 'v1.1.0',
      git_sha: 'abc1234',
    });
    await inFlight.headersParsed;
    server.child.kill('SIGTERM');
    await waitForOutput(server, /received SIGTERM/);
    inFlight.finish();
    assert.equal(await inFlight.status, 201, 'the in-flight request completes');
    assert.equal(await server.exited, 0, server.output());
    assert.match(server.output(), /stopped/);
    await assert.rejects(fetch(`${base}/v1/releases`), 'nothing listens after shutdown');
  });

  void it('a second replica starting on the migrated schema comes up too', async () => {
    const [a, b] = [start(await contractEnv()), start(await contractEnv())];
    await Promise.all([waitForOutput(a, /listening on port/), waitForOutput(b, /listening on port/)]);
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all([a.exited, b.exited]), [0, 0]);
  });

  void it('exits 2 naming what is missing when the environment is incomplete', async () => {
    const env = await contractEnv();
    const { PGHOST: _host, RELEASE_REGISTRY_TOKEN: _token, ...incomplete } = env;
    const server = start(incomplete);
    assert.equal(await server.exited, 2);
    assert.match(server.output(), /PGHOST is not set/);
    assert.match(server.output(), /RELEASE_REGISTRY_TOKEN is not set/);
    assert.doesNotMatch(server.output(), new RegExp(SECRET));
  });

  void it('exits 1 with a clear message when the database is unreachable', async () => {
    const env = await contractEnv();
    const server = start({ ...env, PGPORT: String(await findFreePort()), PGCONNECT_TIMEOUT: '1' });
    assert.equal(await server.exited, 1);
    assert.match(server.output(), /database releaseregistry at 127\.0\.0\.1:[0-9]+ is unreachable/);
    assert.doesNotMatch(server.output(), new RegExp(env.PGPASSWORD ?? 'never'));
  });
});
