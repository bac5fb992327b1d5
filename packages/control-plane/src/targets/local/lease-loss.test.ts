/**
 * A lost lease stops the local target's waits: the soak that watches a new generation ends as soon as the
 * operation's signal aborts (with the signal's reason), instead of running its full time.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { LocalContext } from './context.js';
import { soak } from './workload.js';

test('the soak stops when the operation loses its lease', async () => {
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const instance = { id: 'x/dev#g-1', port, restarts: 0, state: { kind: 'healthy', since: 0 } };
  const c = { supervisor: { get: () => instance } } as unknown as LocalContext;
  const generation = { id: 'g', specHash: 'h', release: 'v1', instanceIds: [instance.id] };
  const lease = new AbortController();
  const lost = new Error('the lease was lost');
  setTimeout(() => lease.abort(lost), 300);
  const started = Date.now();
  try {
    // Called loosely: the signal is what this test is about, whatever soak's signature says.
    const run = soak as (...args: unknown[]) => Promise<unknown>;
    await assert.rejects(run(c, generation, 20_000, 'secret', 1000, lease.signal), (e) => e === lost);
    assert.ok(Date.now() - started < 3000, `the soak went on for ${Date.now() - started} ms`);
  } finally {
    server.close();
  }
});
