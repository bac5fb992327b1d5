/**
 * How one control plane runs its operations, over a real PostgreSQL state database and real pg-boss
 * queues: it never runs one operation twice at once, however many jobs name it; and stopping lets the
 * running step finish, so nothing a step started outlives the stop, and the next control plane resumes
 * after it. (Leases between control planes: lease.test.ts.)
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { deferred, startPlanes, stepsOf, type Planes } from '../testing/engine-planes.js';
import { OPERATIONS_QUEUE } from './engine.js';

let planes: Planes;
before(async () => {
  planes = await startPlanes('engine');
});
afterEach(() => planes.stopPlanes());
after(async () => {
  await planes?.close();
});

test('stopping lets the running step finish (nothing it started outlives the stop), and the next control plane resumes after it', async () => {
  const kind = 'lease-stopping';
  const inSlow = deferred();
  let slowFinishedAt = 0;
  const a = await planes.startPlane('cp-e', {
    kinds: [kind],
    steps: () => ['slow', 'after'],
    async runStep(step) {
      if (step === 'slow') {
        inSlow.resolve();
        await sleep(1500); // as initdb or a file restore: work that does not stop half-way
        slowFinishedAt = Date.now();
      }
      return `${step} by cp-e`;
    },
  });
  const op = await a.engine.enqueue({
    kind,
    deploymentKey: 'lease/stopping',
    reason: 'test',
    createdBy: 'test',
  });
  await inSlow.promise;
  await a.engine.stop();
  const stoppedAt = Date.now();
  assert.ok(
    slowFinishedAt > 0 && slowFinishedAt <= stoppedAt,
    'stop() returned only once the step had finished',
  );
  assert.ok(
    a.lines.some((l) => /waiting up to 15 s for 1 running step/.test(l)),
    a.lines.join('\n'),
  );
  const left = await a.store.getOperation(op.id);
  assert.equal(left?.status, 'running', 'unfinished, not failed: stopping is not a failure');
  assert.deepEqual(stepsOf(left), ['slow:succeeded:slow by cp-e', 'after:pending:']);

  const b = await planes.startPlane('cp-f', {
    kinds: [kind],
    steps: () => ['slow', 'after'],
    runStep: (step) => Promise.resolve(`${step} by cp-f`),
  });
  await b.boss.send(OPERATIONS_QUEUE, { id: op.id }); // as its start() does for what was left unfinished
  const done = await b.engine.waitFor(op.id, 30_000);
  assert.equal(done?.status, 'succeeded');
  assert.deepEqual(stepsOf(done), ['slow:succeeded:slow by cp-e', 'after:succeeded:after by cp-f']);
});

test('several jobs for one operation at once (a resume, a sweep, a retry): one control plane runs it once', async () => {
  const kind = 'lease-duplicate-jobs';
  let runs = 0;
  const plane = await planes.startPlane('cp-g', {
    kinds: [kind],
    steps: () => ['migrate'],
    async runStep() {
      runs++;
      await sleep(1500);
      return 'migrated';
    },
  });
  const op = await plane.engine.enqueue({
    kind,
    deploymentKey: 'lease/dup',
    reason: 'test',
    createdBy: 'test',
  });
  // What a restarted control plane's start, its sweeper and a retry after a held lease each send.
  await Promise.all([1, 2, 3, 4].map(() => plane.boss.send(OPERATIONS_QUEUE, { id: op.id })));
  const done = await plane.engine.waitFor(op.id, 30_000);
  assert.equal(done?.status, 'succeeded');
  await sleep(2000); // a second run would still be going
  assert.equal(runs, 1, 'the step ran once');
  assert.equal((await plane.store.getOperation(op.id))?.attempt, 1);
  assert.ok(!(await plane.store.readLog(op.id)).some((l) => /lost its lease|resumed/.test(l.message)));
});
