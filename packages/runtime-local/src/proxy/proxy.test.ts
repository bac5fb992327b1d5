import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { findFreePort } from '../net.js';
import { createSupervisor, type InstanceStatus, type Supervisor } from '../process/supervisor.js';
import { fixture, tempDir, waitUntil } from '../process/test-support.js';
import { createProxy, type Proxy } from './proxy.js';

const secret = randomBytes(16).toString('hex');
const dir = tempDir('proxy');
const client = new Agent({ keepAlive: true, maxSockets: 64 });
let supervisor: Supervisor;
let proxy: Proxy;
const ports: Record<string, number> = {};

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(host: string, path: string, options: { method?: string; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent: client,
        host: '127.0.0.1',
        port: proxy.port,
        path,
        method: options.method ?? 'GET',
        headers: { host },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

async function startBackend(name: string): Promise<InstanceStatus> {
  const port = await findFreePort();
  ports[name] = port;
  supervisor.start({
    id: name,
    deployment: 'proxy/test',
    command: [process.execPath, fixture('ok-server.mjs')],
    cwd: dir.path,
    env: { DIAGNOSTICS_SECRET: secret, INSTANCE_NAME: name },
    port,
    probe: {
      path: '/-/healthz',
      secret,
      timeoutMs: 1000,
      startupIntervalMs: 200,
      livenessIntervalMs: 1000,
      startupDeadlineMs: 5000,
      failureThreshold: 3,
    },
  });
  return waitUntil(`${name} healthy`, () => {
    const s = supervisor.get(name);
    return s?.state.kind === 'healthy' ? s : undefined;
  });
}

before(async () => {
  supervisor = createSupervisor({ logDir: dir.path });
  proxy = await createProxy({ port: 0, host: '127.0.0.1' });
  await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n)));
});

after(async () => {
  client.destroy();
  await proxy.close();
  await supervisor.stopAll({ drainMs: 1000 });
  dir.remove();
});

function nameOf(reply: Reply): string {
  return (JSON.parse(reply.body) as { name: string }).name;
}

function backend(name: string): { id: string; port: number } {
  return { id: name, port: ports[name] ?? 0 };
}

void test('routes by Host (port stripped, any case) and forwards headers and bodies', async () => {
  proxy.setRoute(['one.dev.localhost', 'one.example.com'], [backend('a')]);
  proxy.setRoute(['two.dev.localhost'], [backend('b')]);
  const one = await send('One.Dev.Localhost:8080', '/whoami');
  assert.equal(one.status, 200);
  const body = JSON.parse(one.body) as { name: string; headers: Record<string, string> };
  assert.equal(body.name, 'a');
  assert.equal(body.headers['x-forwarded-host'], 'One.Dev.Localhost:8080');
  assert.equal(body.headers['x-forwarded-proto'], 'http');
  assert.equal(body.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(nameOf(await send('one.example.com', '/whoami')), 'a');
  assert.equal(nameOf(await send('two.dev.localhost', '/whoami')), 'b');

  const payload = 'x'.repeat(200_000);
  const echoed = await send('two.dev.localhost', '/echo', { method: 'POST', body: payload });
  assert.equal(echoed.status, 200);
  assert.equal(echoed.body, payload);

  const stats = proxy.stats().routes.find((r) => r.hostnames.includes('two.dev.localhost'));
  assert.ok(stats !== undefined && stats.requests >= 2 && stats.responses['2xx'] >= 2 && stats.pending === 0);
  assert.ok(stats.latencyMsTotal > 0, 'the time to each response head is summed');
});

void test('unknown host: 404 that names no host it serves', async () => {
  proxy.setRoute(['one.dev.localhost', 'secret-admin.dev.localhost'], [backend('a')]);
  const reply = await send('nobody.dev.localhost', '/');
  assert.equal(reply.status, 404);
  assert.match(reply.body, /No deployment answers to this host name/);
  assert.doesNotMatch(reply.body, /one\.dev\.localhost|secret-admin|localhost/);
  proxy.removeRoute(['secret-admin.dev.localhost']);
});

void test('no healthy backend: 503 with Retry-After', async () => {
  proxy.setRoute(['empty.dev.localhost'], []);
  const reply = await send('empty.dev.localhost', '/');
  assert.equal(reply.status, 503);
  assert.equal(reply.headers['retry-after'], '1');
  proxy.removeRoute(['empty.dev.localhost']);
  assert.equal((await send('empty.dev.localhost', '/')).status, 404);
});

void test("responses are counted by class and by exact code, the proxy's own 503 too", async () => {
  const host = 'codes.dev.localhost';
  proxy.setRoute([host], [backend('a')]);
  for (const path of ['/status?code=429', '/status?code=429', '/status?code=503', '/whoami']) {
    await send(host, path);
  }
  const stats = () => proxy.stats().routes.find((r) => r.hostnames.includes(host));
  assert.deepEqual(stats()?.codes, { 200: 1, 429: 2, 503: 1 });
  assert.deepEqual(stats()?.responses, { '1xx': 0, '2xx': 1, '3xx': 0, '4xx': 2, '5xx': 1 });
  proxy.setRoute([host], []);
  assert.equal((await send(host, '/')).status, 503);
  assert.deepEqual(stats()?.codes, { 200: 1, 429: 2, 503: 2 });
  proxy.removeRoute([host]);
});

void test('a backend that refuses connections: the request is retried on another one', async () => {
  const dead = { id: 'dead', port: await findFreePort() };
  proxy.setRoute(['retry.dev.localhost'], [dead, backend('c')]);
  for (let i = 0; i < 6; i++) {
    const reply = await send('retry.dev.localhost', '/whoami');
    assert.equal(reply.status, 200);
    assert.equal(nameOf(reply), 'c');
  }
  const route = proxy.stats().routes.find((r) => r.hostnames.includes('retry.dev.localhost'));
  assert.ok((route?.backends.find((b) => b.id === 'dead')?.errors ?? 0) > 0);
  // Alone, it answers 502.
  proxy.setRoute(['retry.dev.localhost'], [dead]);
  assert.equal((await send('retry.dev.localhost', '/')).status, 502);
  proxy.removeRoute(['retry.dev.localhost']);
});

void test('waiting for a backend: requests are held (pending) until one is there', async () => {
  const waiting = await createProxy({ port: 0, pendingTimeoutMs: 5000 });
  try {
    waiting.setRoute(['later.dev.localhost'], []);
    const reply = new Promise<number>((resolve, reject) => {
      request(
        { host: '127.0.0.1', port: waiting.port, path: '/whoami', headers: { host: 'later.dev.localhost' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      )
        .on('error', reject)
        .end();
    });
    await waitUntil('request waiting', () => waiting.stats().routes[0]?.waiting === 1);
    assert.equal(waiting.stats().routes[0]?.pending, 1);
    waiting.setRoute(['later.dev.localhost'], [backend('a')]);
    assert.equal(await reply, 200);
  } finally {
    await waiting.close();
  }
});

void test('zero-loss switch: 20 request loops (GET and POST), route moved from A to B, A drained and stopped', async () => {
  const host = 'switch.dev.localhost';
  proxy.setRoute([host], [backend('a')]);
  let running = true;
  let switched = false;
  let failures = 0;
  const errors: string[] = [];
  const fromAfterSwitch = new Map<string, number>();
  const byName = new Map<string, number>();
  // Half the loops POST a body: those cannot be retried, so only a real drain keeps them whole.
  const loops = Array.from({ length: 20 }, async (_, i) => {
    while (running) {
      const startedAfterSwitch = switched;
      try {
        const reply = await send(
          host,
          '/slow?ms=50',
          i % 2 === 0 ? { method: 'POST', body: JSON.stringify({ loop: i }) } : {},
        );
        if (reply.status !== 200) {
          failures++;
          errors.push(`${reply.status} ${reply.body}`);
          continue;
        }
        const name = (JSON.parse(reply.body) as { name: string }).name;
        byName.set(name, (byName.get(name) ?? 0) + 1);
        if (startedAfterSwitch) fromAfterSwitch.set(name, (fromAfterSwitch.get(name) ?? 0) + 1);
      } catch (error) {
        failures++;
        errors.push(String(error));
      }
    }
  });
  await waitUntil('traffic on A', () => (byName.get('a') ?? 0) >= 60);
  const pendingOnA = proxy.stats().routes.find((r) => r.hostnames.includes(host))?.backends[0]?.pending ?? 0;
  assert.ok(pendingOnA > 0, 'requests in flight on A at the switch');
  proxy.setRoute([host], [backend('b')]);
  switched = true;
  await proxy.drain('a');
  await supervisor.stop('a', { drainMs: 5000 });
  await waitUntil('traffic on B after A stopped', () => (fromAfterSwitch.get('b') ?? 0) >= 100);
  running = false;
  await Promise.all(loops);
  assert.deepEqual(errors, []);
  assert.equal(failures, 0);
  assert.equal(fromAfterSwitch.get('a') ?? 0, 0);
  assert.ok((byName.get('a') ?? 0) >= 60 && (byName.get('b') ?? 0) >= 100);
  const route = proxy.stats().routes.find((r) => r.hostnames.includes(host));
  assert.equal(route?.pending, 0);
  assert.equal(route?.responses['5xx'], 0);
});
