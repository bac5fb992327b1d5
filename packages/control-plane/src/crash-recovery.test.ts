/**
 * `kill -9` of the control plane in the middle of a deployment, then `msp up` again: the operation
 * completes, nothing runs twice, and the data is intact. Runs the real `msp` CLI as subprocesses.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findFreePort } from '@msp/runtime-local';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  createFixtureRepo,
  eventually,
  releaseRegistryDir,
  requestVia,
  stageRelease,
} from './testing/fixture-repo.js';
import { mspBin, mspUpHarness, type MspUpHarness } from './testing/msp-process.js';

const harnesses: MspUpHarness[] = [];
after(async () => {
  for (const h of harnesses) await h.stopAll();
});

/** Live processes whose environment carries this marker (only root or the owner can read environ). */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(marker))
        pids.push(Number(name));
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}

function postmastersOf(dataDir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('/postgres') && argv.includes(dataDir)) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

test('kill -9 of the control plane mid-deployment: the restarted one completes it, no duplicates, data intact', async () => {
  const repo = await createFixtureRepo({ name: 'crash' });
  const port = await findFreePort();
  const proxyPort = await findFreePort();
  const dataDir = join(repo.dir, '.msp');
  const msp = mspUpHarness({ repo: repo.dir, port, proxyPort });
  harnesses.push(msp);
  const api = msp.api;
  type Status = { deployments: Array<{ key: string; status: string; release: string | null }> };
  const healthy = async () =>
    (await api<Status>('/status')).deployments[0]?.status === 'healthy' ? true : undefined;
  const marker = `EXTERNAL_DNS_NAME=${repo.registryDomain}`;
  try {
    const first = msp.start();
    await eventually('the first control plane to deploy the registry', 120_000, healthy);

    // Data written before the crash, with the registry's write token as its process got it.
    const secretToken = await readRegistryToken(repo.registryDomain);
    const created = await requestVia(proxyPort, repo.registryDomain, '/v1/releases', {
      method: 'POST',
      headers: { authorization: `Bearer ${secretToken}` },
      body: JSON.stringify({ name: 'survivor', version: 'v1.0.0', git_sha: 'abcdef1' }),
    });
    assert.equal(created.status, 201);

    // Change the spec: the reconciler starts a redeploy; kill -9 the control plane while it starts instances.
    const specFile = join(repo.dir, 'services', 'releaseregistry', 'service.yaml');
    const spec = await readFile(specFile, 'utf8');
    await writeFile(specFile, spec.replace('    secretEnv:', '    env: { CHANGED: "yes" }\n    secretEnv:'));
    const op = await eventually('the redeploy to reach the instances step', 60_000, async () => {
      const { operations } = await api<{
        operations: Array<{
          id: string;
          status: string;
          reason: string;
          steps: Array<{ name: string; status: string }>;
        }>;
      }>('/operations');
      return operations.find(
        (o) =>
          o.reason === 'changed in the platform repo' &&
          o.steps.some((s) => s.name === 'instances' && s.status === 'running'),
      );
    });
    first.child.kill('SIGKILL');
    await first.exited();

    const second = msp.start();
    const finished = await eventually('the interrupted operation to finish', 120_000, async () => {
      const o = await api<{ status: string; attempt: number; log: Array<{ message: string }> }>(
        `/operations/${op.id}`,
      );
      return o.status === 'succeeded' || o.status === 'failed' ? o : undefined;
    });
    assert.equal(finished.status, 'succeeded');
    assert.ok(finished.attempt >= 2, 'the operation was resumed by the second control plane');
    assert.ok(finished.log.some((l) => /resumed/.test(l.message)));
    await eventually('the registry to be healthy again', 60_000, healthy);

    // Exactly one registry process and one postmaster per cluster; the release written before is there.
    await eventually('one registry process', 15_000, () =>
      processesWith(marker).length === 1 ? true : undefined,
    );
    const clusterDirs = readdirSync(join(dataDir, 'clusters'));
    assert.equal(clusterDirs.length, 1);
    assert.equal(postmastersOf(join(dataDir, 'clusters', clusterDirs[0]!, 'data')).length, 1);
    assert.equal(postmastersOf(join(dataDir, 'state', 'data')).length, 1);
    const survivor = await requestVia(proxyPort, repo.registryDomain, '/v1/releases/survivor/v1.0.0');
    assert.equal(survivor.status, 200);
    // The registry token survived the crash: the restarted process got the same one, and it still writes.
    assert.equal(
      await readRegistryToken(repo.registryDomain),
      secretToken,
      'the registry token is unchanged',
    );
    const written = await requestVia(proxyPort, repo.registryDomain, '/v1/releases', {
      method: 'POST',
      headers: { authorization: `Bearer ${secretToken}` },
      body: JSON.stringify({ name: 'survivor', version: 'v1.0.1', git_sha: 'abcdef1' }),
    });
    assert.equal(written.status, 201);

    second.child.kill('SIGTERM');
    await second.exited();
    assert.deepEqual(processesWith(marker), [], 'Ctrl-C / SIGTERM stops every service process');
    assert.equal(
      postmastersOf(join(dataDir, 'clusters', clusterDirs[0]!, 'data')).length,
      0,
      'and its PostgreSQL',
    );
  } finally {
    await rm(repo.dir, { recursive: true, force: true });
  }
});

/** The registry token as the service sees it: read from the running process's environment. */
async function readRegistryToken(domain: string): Promise<string> {
  return eventually('the registry process', 10_000, () => {
    for (const pid of processesWith(`EXTERNAL_DNS_NAME=${domain}`)) {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      const t = env.find((e) => e.startsWith('RELEASE_REGISTRY_TOKEN='));
      if (t) return t.slice('RELEASE_REGISTRY_TOKEN='.length);
    }
    return undefined;
  });
}

/**
 * MSP_RELEASE of every live process of a deployment of this test's repo: the unique domain tells them apart
 * from other test files' deployments of the same name running at the same time.
 */
function releasesServing(deployment: string, domain: string): string[] {
  return processesWith(`MSP_DEPLOYMENT=${deployment}`)
    .map((pid) => readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0'))
    .filter((env) => env.includes(`EXTERNAL_DNS_NAME=${domain}`))
    .map((env) => env.find((e) => e.startsWith('MSP_RELEASE='))?.slice('MSP_RELEASE='.length) ?? '?');
}

test('kill -9 of the control plane mid-promotion: it completes or rolls back, and prod runs what the record says', async () => {
  const repo = await createFixtureRepo({ name: 'promote-crash', envs: ['dev', 'prod'], rollout: true });
  const port = await findFreePort();
  const proxyPort = await findFreePort();
  const staged = `${repo.dir}-v0.2.0`;
  const prodDomain = repo.registryDomain.replace('.dev.', '.prod.');
  const msp = mspUpHarness({ repo: repo.dir, port, proxyPort });
  harnesses.push(msp);
  const api = msp.api;
  type Status = { deployments: Array<{ key: string; status: string }> };
  const allHealthy = async () => {
    const { deployments } = await api<Status>('/status');
    return deployments.length === 2 && deployments.every((d) => d.status === 'healthy') ? true : undefined;
  };
  type Op = { id: string; status: string; steps: Array<{ name: string; status: string }>; error?: string };
  try {
    // A long soak keeps both releases running after the switch: the crash lands in the riskiest window.
    const first = msp.start({ MSP_SOAK_SECONDS: '8' });
    await eventually('dev and prod to be healthy', 120_000, allHealthy);
    await stageRelease(releaseRegistryDir, staged, { version: '0.2.0' });
    await promisify(execFile)(
      process.execPath,
      [
        mspBin,
        'release',
        'create',
        'releaseregistry',
        '--version',
        'v0.2.0',
        '--from',
        staged,
        '--repo',
        repo.dir,
        '--soak',
        '0',
      ],
      { timeout: 120_000 },
    );
    assert.deepEqual(releasesServing('releaseregistry/dev', repo.registryDomain), ['v0.2.0']);

    const promoted = await api<{ operation: { id: string } }>('/rollouts/promote', {
      service: 'releaseregistry',
    });
    await eventually('the promotion to be soaking after the switch', 60_000, async () => {
      const op = await api<Op>(`/operations/${promoted.operation.id}`);
      return op.steps.some((s) => s.name === 'route' && s.status === 'running') ? true : undefined;
    });
    assert.equal(
      releasesServing('releaseregistry/prod', prodDomain).length,
      2,
      'both releases run during the soak',
    );
    first.child.kill('SIGKILL');
    await first.exited();

    const second = msp.start({ MSP_SOAK_SECONDS: '1' });
    const op = await eventually('the promotion to finish', 120_000, async () => {
      const o = await api<Op>(`/operations/${promoted.operation.id}`);
      return o.status === 'succeeded' || o.status === 'failed' ? o : undefined;
    });
    await eventually('prod to settle', 60_000, allHealthy);
    const status = await api<{ stages: Array<{ environment: string; release: string | null }> }>(
      '/rollouts/status?service=releaseregistry',
    );
    const recorded = status.stages.find((s) => s.environment === 'prod')?.release;
    // Completed: prod runs v0.2.0; rolled back: it runs what it ran before. Never a mix, never unrecorded.
    assert.equal(recorded, op.status === 'succeeded' ? 'v0.2.0' : 'v0.1.0', op.error);
    await eventually('exactly the recorded release to serve prod', 20_000, () => {
      const serving = releasesServing('releaseregistry/prod', prodDomain);
      return serving.length === 1 && serving[0] === recorded ? true : undefined;
    });
    const history = await api<{
      history: Array<{ toEnvironment: string; version: string; outcome: string }>;
    }>('/rollouts/history?service=releaseregistry');
    const record = history.history.find((h) => h.toEnvironment === 'prod' && h.version === 'v0.2.0');
    assert.ok(record, 'the promotion is in the history');
    assert.equal(record.outcome, op.status === 'succeeded' ? 'succeeded' : 'rolled-back');

    second.child.kill('SIGTERM');
    await second.exited();
  } finally {
    await rm(repo.dir, { recursive: true, force: true });
    await rm(staged, { recursive: true, force: true });
  }
});
