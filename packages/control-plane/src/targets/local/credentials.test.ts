import { test } from 'node:test';
import assert from 'node:assert/strict';
import { revokeExpired, type Revocable } from './credentials.js';

function fakeStore() {
  const events: Array<{ deploymentKey: string; kind: string; message: string }> = [];
  return {
    events,
    addEvent: (e: { deploymentKey: string; kind: string; message: string }) => {
      events.push(e);
      return Promise.resolve();
    },
  };
}

test('a failed revocation is an event, is tried again on the next pass, and its recovery is an event too', async () => {
  let failures = 2;
  let attempts = 0;
  const flaky: Revocable = {
    revokeExpiredCredentials() {
      attempts++;
      return failures-- > 0 ? Promise.reject(new Error('connection refused')) : Promise.resolve([]);
    },
  };
  const healthy: Revocable = { revokeExpiredCredentials: () => Promise.resolve([]) };
  const store = fakeStore();
  const failing = new Set<string>();
  const clusters: Array<[string, Revocable]> = [
    ['svc/dev', flaky],
    ['svc/prod', healthy],
  ];
  await revokeExpired(clusters, failing, store);
  assert.deepEqual(
    store.events.map((e) => [e.deploymentKey, e.kind]),
    [['svc/dev', 'credential-revoke-failed']],
  );
  assert.match(store.events[0]!.message, /connection refused/);
  await revokeExpired(clusters, failing, store); // fails again: no second event for the same streak
  assert.equal(store.events.length, 1);
  await revokeExpired(clusters, failing, store); // retried and succeeds
  assert.equal(attempts, 3);
  assert.deepEqual(
    store.events.map((e) => e.kind),
    ['credential-revoke-failed', 'credential-revoke-recovered'],
  );
  assert.equal(failing.size, 0);
});
