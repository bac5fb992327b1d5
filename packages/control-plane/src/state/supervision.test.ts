/**
 * The control plane's own state database dies (kill -9 of its postmaster): health says so and API calls
 * answer 503 `unavailable` while it is down, the watchdog brings it back within seconds with every row
 * intact, operations run again, and stopping is clean whatever state the database is in.
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { findFreePort } from '@msp/runtime-local';
import { startControlPlane, type FeatureModule } from '../server.js';
import { fakeTargetFactory } from '../testing/fake-target.js';
import { createLocalRuntime } from '../targets/local/index.js';
import { createFixtureRepo, eventually } from '../testing/fixture-repo.js';
import { mspUpHarness } from '../testing/msp-process.js';

const key = 'releaseregistry/dev';
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

/** The state database's own log, for a failure message: what PostgreSQL did while the test waited. */
async function stateLogTail(stateCluster: string): Promise<string> {
  const log = await readFile(join(stateCluster, 'run', 'postgres.log'), 'utf8').catch(() => '(no log)');
  return log.split('\n').slice(-40).join('\n');
}

async function killStatePostmaster(stateCluster: string): Promise<void> {
  const pidFile = await readFile(join(stateCluster, 'data', 'postmaster.pid'), 'utf8');
  process.kill(Number(pidFile.split('\n')[0]), 'SIGKILL');
}

type ErrorBody = { error: { code: string; message: string } };

test('kill -9 of the state database: healthz and the API answer 503, it comes back with its data, stop is clean', async (t) => {
  const repo = await createFixtureRepo({ name: 'statekill' });
  cleanups.push(() => rm(repo.dir, { recursive: true, force: true }));
  const proxyPort = await findFreePort();
  const lines: string[] = [];
  const cp = await startControlPlane({
    repoDir: repo.dir,
    port: await findFreePort(),
    createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort, log: (l) => lines.push(l) }),
    log: (l) => lines.push(l),
  });
  let stopped = false;
  cleanups.push(() => (stopped ? Promise.resolve() : cp.stop()));
  const get = (path: string) =>
    fetch(`${cp.url}${path}`, { headers: { authorization: `Bearer ${cp.adminToken}` } });
  await eventually('the registry to be healthy', 90_000, async () =>
    (await cp.store.getDeployment(key))?.status === 'healthy' ? true : undefined,
  );
  const before = await cp.store.listOperations({ limit: 100 });
  assert.equal((await get('/-/healthz')).status, 200);

  await killStatePostmaster(cp.dataDir.stateCluster);
  // Down: health and every authenticated call say so, as 503 unavailable naming the state database.
  const down = await eventually('healthz to report the state database', 5_000, async () => {
    const res = await get('/-/healthz');
    return res.status === 503 ? ((await res.json()) as ErrorBody) : undefined;
  });
  assert.equal(down.error.code, 'unavailable');
  assert.match(down.error.message, /state database/);
  const status = await eventually('the API to answer 503', 5_000, async () => {
    const res = await get('/api/v1/status');
    return res.status === 503 ? ((await res.json()) as ErrorBody) : undefined;
  });
  assert.equal(status.error.code, 'unavailable');
  assert.match(status.error.message, /state database is not answering/);

  // Back within seconds (crash recovery), every row there.
  const t0 = Date.now();
  await eventually('the state database to be back', 15_000, async () =>
    (await get('/-/healthz')).status === 200 && (await get('/api/v1/status')).status === 200
      ? true
      : undefined,
  );
  t.diagnostic(`the state database answered again ${Date.now() - t0} ms after the API said 503`);
  assert.ok(Date.now() - t0 < 10_000, `back after ${Date.now() - t0} ms`);
  const body = (await (await get('/api/v1/status')).json()) as { deployments: Array<{ key: string }> };
  assert.deepEqual(
    body.deployments.map((d) => d.key),
    [key],
  );
  assert.deepEqual(
    (await cp.store.listOperations({ limit: 100 })).map((o) => o.id),
    before.map((o) => o.id),
  );
  await eventually('the restart to be recorded', 5_000, async () =>
    (await cp.store.listEvents({})).some((e) => e.kind === 'state-database-restarted') ? true : undefined,
  );
  assert.ok(lines.some((l) => /state database is not running; starting it/.test(l)));
  // The job queue works again: an operation queued now runs to the end.
  const op = await cp.engine.enqueue({
    kind: 'deploy',
    deploymentKey: key,
    reason: 'after',
    createdBy: 'test',
  });
  assert.equal((await cp.engine.waitFor(op.id, 120_000))?.status, 'succeeded');

  // Stopping while it is down again: no error, nothing unhandled.
  await killStatePostmaster(cp.dataDir.stateCluster);
  await eventually('healthz to notice', 5_000, async () =>
    (await get('/-/healthz')).status === 503 ? true : undefined,
  );
  stopped = true;
  await cp.stop();
  assert.deepEqual(unhandled, []);
});

test('msp up: a state database killed while up waits is back; Ctrl-C after another kill -9 exits 0, no stack trace', async () => {
  const repo = await createFixtureRepo({ name: 'statekill-cli' });
  cleanups.push(() => rm(repo.dir, { recursive: true, force: true }));
  const msp = mspUpHarness({ repo: repo.dir, port: await findFreePort(), proxyPort: await findFreePort() });
  cleanups.push(() => msp.stopAll());
  const up = msp.start();
  let output = '';
  up.child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  up.child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const stateCluster = join(repo.dir, '.msp', 'state');
  // While `msp up` still waits for its deployments: it keeps waiting, and reports them once it is back.
  await eventually('the control plane to have started', 60_000, () =>
    /msp: control plane API/.test(output) ? true : undefined,
  );
  await killStatePostmaster(stateCluster);
  // A deploy cut by the outage may fail (a retryable error); either way msp up reports and keeps serving.
  await eventually('msp up to report its deployments', 240_000, () =>
    /msp: (all 1 deployments healthy|1 deployment\(s\) not healthy)/.test(output) ? true : undefined,
  ).catch(async (error: Error) => {
    throw new Error(
      `${error.message}; msp up said:\n${output}\nstate database log:\n${await stateLogTail(stateCluster)}`,
    );
  });
  assert.match(output, /state database is not running; starting it \(crash recovery\)/);
  assert.ok((await msp.api<{ deployments: unknown[] }>('/status')).deployments.length === 1);

  await killStatePostmaster(stateCluster);
  const code = new Promise<number | null>((resolve) => up.child.once('exit', (c) => resolve(c)));
  up.child.kill('SIGINT');
  assert.equal(await code, 0, output);
  assert.match(output, /msp: stopped/);
  assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
});

test('a step that ends while the state database is down: no unhandled rejection, the operation resumes', async () => {
  const repo = await createFixtureRepo({ name: 'statekill-op' });
  cleanups.push(() => rm(repo.dir, { recursive: true, force: true }));
  // One operation kind whose only step waits until the test lets it go (the first time it runs).
  let stepStarted!: () => void;
  const started = new Promise<void>((r) => (stepStarted = r));
  let letGo!: () => void;
  const released = new Promise<void>((r) => (letGo = r));
  let runs = 0;
  const blocking: FeatureModule = {
    name: 'blocking',
    setup: () =>
      Promise.resolve({
        handlers: [
          {
            kinds: ['test-block'],
            steps: () => ['wait'],
            async runStep() {
              if (++runs > 1) return 'again';
              stepStarted();
              await released;
              return 'released';
            },
          },
        ],
      }),
  };
  const cp = await startControlPlane({
    repoDir: repo.dir,
    port: await findFreePort(),
    targets: { local: fakeTargetFactory('local') },
    modules: [blocking],
    reconcile: false,
    log: () => undefined,
  });
  cleanups.push(() => cp.stop());
  const before = unhandled.length;
  const op = await cp.engine.enqueue({
    kind: 'test-block',
    deploymentKey: key,
    reason: 'test',
    createdBy: 'test',
  });
  await started;
  // The step ends just after the state database died: its checkpoint cannot be written, the job neither.
  await killStatePostmaster(cp.dataDir.stateCluster);
  letGo();
  // Its lease runs out (it could not be released), another pass takes the operation over and ends it.
  // Generous: under a loaded machine crash recovery and two lease expiries take their time.
  const done = await eventually('the operation to finish', 150_000, async () => {
    const o = await cp.store.getOperation(op.id);
    return o?.status === 'succeeded' || o?.status === 'failed' ? o : undefined;
  }).catch(async (error: Error) => {
    throw new Error(`${error.message}\nstate database log:\n${await stateLogTail(cp.dataDir.stateCluster)}`);
  });
  assert.equal(done.status, 'succeeded', JSON.stringify(done));
  assert.equal(runs, 2, 'the step ran again when the operation was resumed');
  assert.deepEqual(unhandled.slice(before), []);
});
