/**
 * A platform repo that stops validating while the control plane runs: POST /reconcile and GET /status say
 * so (`repo.valid`, `repo.diagnostics`), `msp status` prints it (exit 0), an event records it, and the
 * running deployment keeps running. Fixed again, it all clears.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { findFreePort } from '@msp/runtime-local';
import { startControlPlane } from './server.js';
import { createLocalRuntime } from './targets/local/index.js';
import { createFixtureRepo, eventually } from './testing/fixture-repo.js';
import { mspBin } from './testing/msp-process.js';

const key = 'releaseregistry/dev';
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

type Repo = { valid: boolean; diagnostics: string[]; checkedAt: string } | null;

test('an invalid platform repo is reported by reconcile, status and msp status; deployments keep running', async () => {
  const repo = await createFixtureRepo({ name: 'repostate' });
  cleanups.push(() => rm(repo.dir, { recursive: true, force: true }));
  const proxyPort = await findFreePort();
  const cp = await startControlPlane({
    repoDir: repo.dir,
    port: await findFreePort(),
    createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort, log: () => undefined }),
    log: () => undefined,
  });
  cleanups.push(() => cp.stop());
  const call = async <T>(path: string, method = 'GET'): Promise<T> => {
    const res = await fetch(`${cp.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${cp.adminToken}` },
    });
    assert.equal(res.status, 200, `${method} ${path}`);
    return (await res.json()) as T;
  };
  const mspStatus = async () =>
    (await promisify(execFile)(process.execPath, [mspBin, 'status', '--repo', repo.dir])).stdout;
  await eventually('the registry to be healthy', 90_000, async () =>
    (await cp.store.getDeployment(key))?.status === 'healthy' ? true : undefined,
  );
  assert.equal((await call<{ repo: Repo }>('/status')).repo?.valid, true);
  assert.doesNotMatch(await mspStatus(), /does not validate/);

  const file = join(repo.dir, 'services', 'releaseregistry', 'service.yaml');
  const good = await readFile(file, 'utf8');
  assert.match(good, /type: manual/);
  await writeFile(file, good.replace('type: manual', 'type: sometimes'));

  const reconciled = await call<{ actions: unknown[]; repo: Repo }>('/reconcile', 'POST');
  assert.deepEqual(reconciled.actions, []);
  assert.equal(reconciled.repo?.valid, false);
  assert.ok(reconciled.repo.diagnostics.length > 0);
  assert.match(
    reconciled.repo.diagnostics.join('\n'),
    /service\.yaml:\d+:\d+: .*sometimes|service\.yaml.*deploy/,
  );

  const status = await call<{ repo: Repo; deployments: Array<{ key: string; status: string }> }>('/status');
  assert.deepEqual(status.repo?.diagnostics, reconciled.repo.diagnostics);
  const printed = await mspStatus(); // exit 0, or execFile would throw
  assert.match(printed, /The platform repo does not validate \(\d+ error\(s\)\)/);
  assert.ok(printed.includes(reconciled.repo.diagnostics[0]!), printed);
  assert.match(printed, /releaseregistry\/dev\s+healthy/);
  const events = await cp.store.listEvents({});
  assert.equal(events.filter((e) => e.kind === 'repo-invalid').length, 1, 'one event, not one per reconcile');

  // The deployment still runs and serves.
  assert.equal(status.deployments.find((d) => d.key === key)?.status, 'healthy');
  assert.ok(cp.runtime.status(key)?.instances.some((i) => i.state === 'healthy'));

  await writeFile(file, good);
  const fixed = await call<{ repo: Repo }>('/reconcile', 'POST');
  assert.deepEqual(fixed.repo && { valid: fixed.repo.valid, diagnostics: fixed.repo.diagnostics }, {
    valid: true,
    diagnostics: [],
  });
  assert.doesNotMatch(await mspStatus(), /does not validate/);
  await eventually('the repo-valid event', 5_000, async () =>
    (await cp.store.listEvents({})).some((e) => e.kind === 'repo-valid') ? true : undefined,
  );
});
