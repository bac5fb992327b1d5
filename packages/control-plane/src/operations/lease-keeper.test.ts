/**
 * The lease keeper on its own, with a renewal the test controls: each way of losing a lease aborts the
 * signal with a LeaseLostError, and the engine stops waiting for a step that ignores the signal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { holdLease, LeaseLostError, untilAborted, type Lease } from './lease.js';

const base = { operationId: 'op-1', owner: 'cp-x', leaseSeconds: 0.3 };

async function reasonOf(lease: Lease): Promise<LeaseLostError> {
  try {
    if (!lease.signal.aborted) await once(lease.signal, 'abort');
  } finally {
    lease.stop();
  }
  assert.ok(lease.signal.reason instanceof LeaseLostError);
  return lease.signal.reason;
}

test('renewals that get through keep the lease past its length', async () => {
  let renewals = 0;
  // A 1 s lease renewed every 0.1 s, held 2.5 leases long: only a timer late by 0.9 s loses it. With the
  // 0.3 s lease, a renewal 0.2 s late on a loaded machine would lose it: the keeper right, the test not.
  const lease = holdLease({
    ...base,
    leaseSeconds: 1,
    renewEveryMs: 100,
    renew: () => {
      renewals++;
      return Promise.resolve(true);
    },
  });
  await new Promise((r) => setTimeout(r, 2500));
  lease.stop();
  assert.equal(lease.signal.aborted, false, String(lease.signal.reason));
  assert.ok(renewals >= 5, `${renewals} renewals`);
});

test('a renewal that finds the lease taken aborts the signal', async () => {
  const reason = await reasonOf(holdLease({ ...base, renew: () => Promise.resolve(false) }));
  assert.match(
    reason.message,
    /^Control plane cp-x lost its lease on operation op-1: another control plane took/,
  );
  assert.equal(reason.code, 'conflict');
  assert.deepEqual(reason.details, {
    reason: 'lease_lost',
    operationId: 'op-1',
    owner: 'cp-x',
    heldBy: null,
  });
});

test('a renewal that fails aborts the signal, keeping the cause', async () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  const reason = await reasonOf(holdLease({ ...base, renew: () => Promise.reject(refused) }));
  assert.match(reason.message, /renewing the lease failed \(connect ECONNREFUSED 127\.0\.0\.1:5432\)/);
  assert.equal(reason.cause, refused);
});

test('a renewal that hangs aborts the signal once the lease ran out', async () => {
  const started = Date.now();
  const reason = await reasonOf(holdLease({ ...base, renew: () => new Promise<boolean>(() => undefined) }));
  assert.match(reason.message, /no renewal got through in the 0\.3 s the lease lasts/);
  assert.ok(Date.now() - started >= 300);
});

test('untilAborted stops waiting for work that ignores the signal, and passes results and errors through', async () => {
  const controller = new AbortController();
  const never = new Promise<string>(() => undefined);
  const waiting = untilAborted(never, controller.signal);
  const why = new LeaseLostError('op-1', 'cp-x', 'test');
  controller.abort(why);
  await assert.rejects(waiting, (e) => e === why);
  await assert.rejects(untilAborted(Promise.resolve('late'), controller.signal), (e) => e === why);

  const live = new AbortController().signal;
  assert.equal(await untilAborted(Promise.resolve('done'), live), 'done');
  await assert.rejects(untilAborted(Promise.reject(new Error('step failed')), live), /step failed/);
});
