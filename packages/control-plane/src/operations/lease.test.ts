/**
 * Leases that fence, over one real PostgreSQL state database and real pg-boss queues: two control planes
 * (each its own pool, job queue client and operation engine, with its own owner name) share the state.
 * A paused one's late checkpoint is refused and logged while the new owner's checkpoints stay; a running
 * one whose lease is taken aborts its step at once; a failed step keeps its error code and retryability.
 * (How one control plane runs its operations: engine.test.ts.)
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { UnavailableError } from '@msp/core';
import { findFreePort } from '@msp/runtime-local';
import { createSecretBox } from '../secrets.js';
import { startControlPlane, type ControlPlane } from '../server.js';
import { createStateStore } from '../state/store.js';
import { createLocalRuntime } from '../targets/local/index.js';
import { LEASE_SECONDS, deferred, startPlanes, stepsOf, type Planes } from '../testing/engine-planes.js';
import { createFixtureRepo, eventually, type FixtureRepo } from '../testing/fixture-repo.js';
import { OPERATIONS_QUEUE, type OperationHandler } from './engine.js';
import { LeaseLostError } from './lease.js';

let planes: Planes;
let url: string;
let cleanups: Planes['cleanups'];
const startPlane = (owner: string, handler: OperationHandler, renewEveryMs?: number) =>
  planes.startPlane(owner, handler, renewEveryMs);

before(async () => {
  planes = await startPlanes('lease');
  ({ url, cleanups } = planes);
});
// Each test's control planes stop with it: the next one's operations are not offered to them.
afterEach(() => planes.stopPlanes());
after(async () => {
  await planes?.close();
});

test('a control plane paused past its lease: the other takes over and completes, the late checkpoint is refused and logged', async () => {
  const kind = 'lease-paused';
  const steps = ['one', 'two', 'three'];
  const inStepTwo = deferred();
  const wakeUp = deferred();
  // cp-a's step two blocks (the process is paused) and then finishes as if nothing happened.
  const a = await startPlane(
    'cp-a',
    {
      kinds: [kind],
      steps: () => steps,
      async runStep(step) {
        if (step === 'two') {
          inStepTwo.resolve();
          await wakeUp.promise;
        }
        return `${step} by cp-a`;
      },
    },
    3_600_000, // paused: its heartbeat never renews the lease
  );
  const op = await a.engine.enqueue({
    kind,
    deploymentKey: 'lease/paused',
    reason: 'test',
    createdBy: 'test',
  });
  await inStepTwo.promise;
  // Paused means it takes no jobs either.
  await a.boss.offWork(OPERATIONS_QUEUE);

  const b = await startPlane('cp-b', {
    kinds: [kind],
    steps: () => steps,
    runStep: (step) => Promise.resolve(`${step} by cp-b`),
  });
  const done = await b.engine.waitFor(op.id, 30_000);
  assert.equal(done?.status, 'succeeded', 'cp-b completes the operation once cp-a’s lease ran out');
  assert.deepEqual(stepsOf(done), [
    'one:succeeded:one by cp-a',
    'two:succeeded:two by cp-b',
    'three:succeeded:three by cp-b',
  ]);
  assert.equal(done?.attempt, 2);
  await eventually('cp-b to release the lease', 5000, () =>
    b.engine.running().length === 0 ? true : undefined,
  );

  // cp-a wakes up: its step two returns and it writes the checkpoint of a lease it no longer holds.
  wakeUp.resolve();
  const refusal = await eventually('cp-a to log the refused checkpoint', 10_000, () =>
    a.lines.find((l) => l.includes(op.id)),
  );
  assert.match(refusal, /^operations: Control plane cp-a lost its lease on operation /);
  assert.match(
    refusal,
    /its checkpoint of attempt 1 was refused: attempt 2 holds no lease and the operation is succeeded/,
  );
  await eventually('cp-a to stop running it', 5000, () =>
    a.engine.running().length === 0 ? true : undefined,
  );

  // The new owner's checkpoints are intact; the refusal is in the operation's log for whoever reads it.
  const now = await b.store.getOperation(op.id);
  assert.deepEqual(now, done);
  const log = await b.store.readLog(op.id);
  assert.ok(log.some((l) => l.level === 'warn' && l.message === 'resumed (attempt 2) by cp-b'));
  const warned = log.find((l) => l.message.startsWith('Control plane cp-a lost its lease'));
  assert.equal(warned?.level, 'warn');
  assert.ok(log.indexOf(warned) > log.findIndex((l) => l.message === 'operation succeeded'));

  // The store refuses it whatever the engine thinks: a direct write as cp-a is a typed LeaseLostError.
  await assert.rejects(
    a.store.saveOperation({ ...done, status: 'failed', attempt: 1 }, 'cp-a'),
    (e: unknown) => e instanceof LeaseLostError && e.code === 'conflict' && e.owner === 'cp-a',
  );
  assert.deepEqual(await b.store.getOperation(op.id), done);
});

test('a running step whose lease is taken over is aborted through its signal at once, and nothing more is written', async () => {
  const kind = 'lease-taken';
  const inWait = deferred();
  const reasons: unknown[] = [];
  const a = await startPlane('cp-c', {
    kinds: [kind],
    steps: () => ['prepare', 'wait', 'record'],
    async runStep(step, ctx) {
      if (step !== 'wait' || ctx.operation.attempt > 1) return `${step} done`;
      inWait.resolve();
      // A step that polls something slow, observing the signal.
      try {
        for (;;) await sleep(200, undefined, { signal: ctx.signal });
      } catch (error) {
        reasons.push(ctx.signal.reason);
        throw error;
      }
    },
  });
  const op = await a.engine.enqueue({
    kind,
    deploymentKey: 'lease/taken',
    reason: 'test',
    createdBy: 'test',
  });
  await inWait.promise;
  const before = await a.store.getOperation(op.id);
  assert.deepEqual(stepsOf(before), ['prepare:succeeded:prepare done', 'wait:running:', 'record:pending:']);

  // cp-c's renewals were slow and its lease ran out; cp-d takes it over (as its engine would).
  const d = createStateStore(
    new pg.Pool({ connectionString: url, max: 1 }),
    createSecretBox(randomBytes(32)),
  );
  cleanups.push(() => d.pool.end());
  const takenAt = await eventually('cp-d to take the lease', 5000, async () => {
    await d.pool.query(`update operations set lease_expires_at = now() - interval '1 second' where id = $1`, [
      op.id,
    ]);
    return (await d.acquireLease(op.id, 'cp-d', LEASE_SECONDS)) ? Date.now() : undefined;
  });

  const line = await eventually('cp-c to stop', 5000, () => a.lines.find((l) => l.includes(op.id)));
  const abortedAfter = Date.now() - takenAt;
  assert.ok(abortedAfter < LEASE_SECONDS * 1000, `aborted ${abortedAfter} ms after the takeover`);
  assert.match(
    line,
    /Control plane cp-c lost its lease on operation .*: another control plane took the lease over/,
  );
  assert.equal(reasons.length, 1);
  assert.ok(reasons[0] instanceof LeaseLostError, 'the step sees why it was aborted');
  await eventually('cp-c to let go', 5000, () => (a.engine.running().length === 0 ? true : undefined));
  const taken = await d.getOperation(op.id);
  assert.deepEqual(stepsOf(taken), stepsOf(before), 'cp-c wrote no checkpoint after losing the lease');
  assert.equal(taken?.status, 'running');
  assert.equal(taken?.attempt, 2);

  // cp-d never runs it: once its lease runs out, cp-c (which looks again) resumes the operation.
  const done = await a.engine.waitFor(op.id, 30_000);
  assert.equal(done?.status, 'succeeded');
  assert.equal(done?.attempt, 3);
  assert.deepEqual(stepsOf(done), [
    'prepare:succeeded:prepare done',
    'wait:succeeded:wait done',
    'record:succeeded:record done',
  ]);
});

test('an operation queued while its job was lost (sent during an outage) is found and run', async () => {
  const kind = 'lease-stranded';
  const plane = await startPlane('cp-c', {
    kinds: [kind],
    steps: () => ['only'],
    runStep: () => Promise.resolve('ran'),
  });
  // As enqueue leaves it when its job never reached the queue: a queued row, no lease, no job.
  const op = await plane.store.createOperation({
    id: randomUUID(),
    kind,
    deploymentKey: 'lease/stranded',
    status: 'queued',
    steps: [{ name: 'only', status: 'pending' }],
    input: {},
    reason: 'test',
    createdBy: 'test',
    createdAt: new Date().toISOString(),
    attempt: 0,
  });
  const done = await eventually('the stranded operation to run', 30_000, async () => {
    const o = await plane.store.getOperation(op.id);
    return o?.status === 'succeeded' ? o : undefined;
  });
  assert.deepEqual(stepsOf(done), ['only:succeeded:ran']);
});

test('a failed step keeps its error code and whether retrying helps, and the API shows them', async () => {
  const repo: FixtureRepo = await createFixtureRepo({ name: 'lease-api' });
  const dataDir = await mkdtemp(join(tmpdir(), 'msp-data-'));
  cleanups.push(() => rm(repo.dir, { recursive: true, force: true }));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const proxyPort = await findFreePort();
  const kinds = ['lease-unavailable', 'lease-bug'];
  const cp: ControlPlane = await startControlPlane({
    repoDir: repo.dir,
    dataDir,
    port: await findFreePort(),
    databaseUrl: url,
    reconcile: false,
    createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort }),
    modules: [
      {
        name: 'lease-test',
        setup: () =>
          Promise.resolve({
            handlers: [
              {
                kinds,
                steps: () => ['fetch'],
                runStep: (_step, ctx) =>
                  Promise.reject(
                    ctx.operation.kind === 'lease-bug'
                      ? new TypeError("Cannot read properties of undefined (reading 'digest')")
                      : new UnavailableError(
                          'The object store at http://127.0.0.1:9 did not answer; retry later.',
                        ),
                  ),
              },
            ],
          }),
      },
    ],
    log: () => undefined,
  });
  cleanups.push(() => cp.stop());

  const shown: Array<Record<string, unknown>> = [];
  for (const kind of kinds) {
    const op = await cp.engine.enqueue({
      kind,
      deploymentKey: `lease/${kind}`,
      reason: 'test',
      createdBy: 'test',
    });
    assert.equal((await cp.engine.waitFor(op.id, 30_000))?.status, 'failed');
    const res = await fetch(`${cp.url}/api/v1/operations/${op.id}`, {
      headers: { authorization: `Bearer ${cp.adminToken}` },
    });
    assert.equal(res.status, 200);
    shown.push((await res.json()) as Record<string, unknown>);
  }
  assert.deepEqual(
    shown.map((o) => [o.status, o.errorCode, o.retryable, o.error]),
    [
      ['failed', 'unavailable', true, 'The object store at http://127.0.0.1:9 did not answer; retry later.'],
      ['failed', 'internal', false, "Cannot read properties of undefined (reading 'digest')"],
    ],
  );
});
