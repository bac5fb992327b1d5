/**
 * The API's edge against a real control plane (both feature modules): the OpenAPI document lists exactly
 * the routes served, NUL bytes and oversize bodies are refused before they reach anything, a release is
 * created from an uploaded bundle (checked against its sha256, size limited), a busy deployment's 409
 * names what runs, and a service without a database says so. The CLI is run as a user runs it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createArtifactStore, findFreePort } from '@msp/runtime-local';
import { defaultModules } from '../modules.js';
import { startControlPlane, type ControlPlane } from '../server.js';
import { createLocalRuntime } from '../targets/local/index.js';
import {
  addPlainService,
  createFixtureRepo,
  eventually,
  releaseRegistryDir,
  stageRelease,
  type FixtureRepo,
} from '../testing/fixture-repo.js';
import { createApiApp, documentedRoutes, type ApiDependencies } from './app.js';

const BIN = fileURLToPath(new URL('../../../cli/bin/msp.js', import.meta.url));

type Json = Record<string, unknown> & {
  error?: { code: string; message: string; details?: Record<string, unknown> };
};

describe('the API edge', () => {
  let repo: FixtureRepo;
  let cp: ControlPlane;
  const key = 'releaseregistry/dev';

  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${cp.url}/api/v1${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${cp.adminToken}`,
        'content-type': 'application/json',
        ...(init.headers as Record<string, string> | undefined),
      },
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as Json };
  };
  const post = (path: string, body: unknown) => api(path, { method: 'POST', body: JSON.stringify(body) });

  /** Runs the built `msp` against this control plane; `onStderr` sees its progress as it comes. */
  const msp = (args: string[], onStderr?: (text: string) => void) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        env: { ...process.env, MSP_URL: cp.url, MSP_TOKEN: cp.adminToken },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
        onStderr?.(stderr);
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  /** Packs a directory the way the CLI does: the tarball's path, digest and size. */
  const packScratch: string[] = [];
  const pack = async (dir: string) => {
    const root = await mkdtemp(join(tmpdir(), 'msp-pack-'));
    packScratch.push(root);
    return createArtifactStore({ root }).pack(dir);
  };
  const upload = (
    digest: string,
    body: NonNullable<RequestInit['body']>,
    headers: Record<string, string> = {},
  ) =>
    fetch(`${cp.url}/api/v1/artifacts/${digest}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/gzip', ...headers },
      body,
      duplex: 'half',
    });

  before(async () => {
    repo = await createFixtureRepo({ name: 'api', rollout: true });
    await addPlainService(repo); // a service without a database
    cp = await startControlPlane({
      repoDir: repo.dir,
      port: await findFreePort(),
      createRuntime: async (deps) => createLocalRuntime({ ...deps, proxyPort: await findFreePort() }),
      modules: defaultModules(),
      log: () => undefined,
    });
    await eventually('the registry to be healthy', 120_000, async () =>
      (await cp.store.getDeployment(key))?.status === 'healthy' ? true : undefined,
    );
    await eventually('plain/dev to be known', 30_000, async () =>
      (await cp.store.getDeployment('plain/dev')) ? true : undefined,
    );
  });

  after(async () => {
    await cp?.stop();
    if (repo) await rm(repo.dir, { recursive: true, force: true });
    for (const root of packScratch) await rm(root, { recursive: true, force: true });
  });

  test('the OpenAPI document lists every route the server answers, and only those', async () => {
    const { status, body } = await api('/openapi.json');
    assert.equal(status, 200);
    const listed = documentedRoutes(body as { paths: object });
    assert.ok(listed.includes('DELETE /backups/{id}'), 'DELETE /backups/{id} is documented');
    assert.ok(listed.includes('PUT /artifacts/{digest}'));
    // Nothing listed that isn't served: each documented route answers something other than "no route".
    for (const route of listed) {
      const [method, path] = route.split(' ') as [string, string];
      const res = await fetch(`${cp.url}/api/v1${path.replace(/\{[^}]+\}/g, 'x')}`, {
        method,
        headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/json' },
        ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}' }),
      });
      const text = await res.text();
      assert.doesNotMatch(text, /No route/, `${route} is served`);
    }
    // Every route served is listed: the app refuses to start with a route the document lacks.
    const routes: ApiDependencies['routes'] = [
      (a) => {
        a.get('/undocumented', (c) => c.text('x'));
      },
    ];
    const deps = { routes } as unknown as ApiDependencies;
    assert.throws(() => createApiApp(deps), /missing from the OpenAPI document: GET \/undocumented/);
  });

  test('a NUL byte in an id, a query parameter or a JSON string is a 400, not a 500', async () => {
    const nul = '\u0000';
    const answers = [
      await api('/deployments/%00'),
      await api('/deployments/releaseregistry%2Fdev%00'),
      await api('/operations/%00'),
      await api('/operations?deployment=%00'),
      await api('/events?deployment=a%00'),
      await api('/backups?deployment=%00'),
      await api('/backups/%00'),
      await api('/logs/%00'),
      await post('/deployments/%00/deploy', {}),
      await post('/deployments/releaseregistry%2Fdev/deploy', { reason: `a${nul}` }),
      await post('/backups', { deployment: nul }),
      await post('/backups/drills', { deployment: `${key}${nul}` }),
      await post('/pg/connect', { deployment: nul }),
      await post('/restores', { deployment: nul, latest: true, inPlace: true }),
      await post('/restores', { deployment: key, backup: nul, inPlace: true }),
      await post('/rollouts/rollback', { service: 'releaseregistry', environment: nul }),
      await api('/releases?service=%00'),
    ];
    for (const [i, a] of answers.entries()) {
      assert.equal(a.status, 400, `answer ${i}: ${JSON.stringify(a.body)}`);
      assert.equal(a.body.error?.code, 'invalid_input');
    }
    assert.match(answers[10]!.body.error!.message, /deployment: must not contain a NUL byte/);
  });

  test('a JSON body past 1 MB is a 413 before it is read, with or without a length', async () => {
    const big = JSON.stringify({ deployment: key, reason: 'x'.repeat(2 * 1024 * 1024) });
    const sized = await api('/backups', { method: 'POST', body: big });
    assert.equal(sized.status, 413);
    assert.equal(sized.body.error?.code, 'invalid_input');
    assert.match(sized.body.error.message, /too large/);
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 40; i++) controller.enqueue(new TextEncoder().encode(' '.repeat(64 * 1024)));
        controller.close();
      },
    });
    const streamed = await api('/pg/connect', {
      method: 'POST',
      body: chunks,
      duplex: 'half',
    });
    assert.equal(streamed.status, 413);
    // Below the limit all is as before.
    assert.equal((await post('/backups', { deployment: key, reason: 'x'.repeat(600) })).status, 400);
  });

  test('a release from an uploaded bundle: stored under its digest, delivered, no server path read', async () => {
    const build = await stageRelease(releaseRegistryDir, join(repo.dir, 'build-v0.2.0'), {
      version: '0.2.0',
    });
    const packed = await pack(build);
    const bytes = await readFile(packed.path);
    const stored = await upload(packed.digest, bytes);
    assert.equal(stored.status, 201, await stored.clone().text());
    assert.deepEqual(await stored.json(), { digest: packed.digest, size: packed.size });
    const created = await post('/releases', {
      service: 'releaseregistry',
      version: 'v0.2.0',
      bundle: packed.digest,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const release = created.body.release as { artifacts: Array<{ digest: string; kind: string }> };
    assert.deepEqual(
      release.artifacts.map((a) => [a.kind, a.digest]),
      [['bundle', packed.digest]],
    );
    const op = await cp.engine.waitFor((created.body.operation as { id: string }).id, 120_000);
    assert.equal(op?.status, 'succeeded', op?.error);
    // `from` (a path on the server's disk) is no longer a field.
    const fromPath = await post('/releases', { service: 'releaseregistry', version: 'v0.2.1', from: '/etc' });
    assert.equal(fromPath.status, 400);
    // A bundle that was never uploaded.
    const missing = await post('/releases', {
      service: 'releaseregistry',
      version: 'v0.2.1',
      bundle: `sha256:${'0'.repeat(64)}`,
    });
    assert.equal(missing.status, 412);
    assert.match(missing.body.error!.message, /was not uploaded/);
  });

  test('an upload that does not match its sha256 is a 400 and is not stored', async () => {
    const wrong = `sha256:${'a'.repeat(64)}`;
    const res = await upload(wrong, Buffer.from('not what was announced'));
    assert.equal(res.status, 400);
    const body = (await res.json()) as Json;
    assert.match(body.error!.message, /does not match its checksum/);
    assert.equal(existsSync(join(cp.dataDir.root, 'artifacts', 'sha256', `${'a'.repeat(64)}.tar.gz`)), false);
    assert.equal((await upload('sha256:nothex', Buffer.from('x'))).status, 400);
  });

  test('an upload past the bundle limit is a 413, announced or streamed', async () => {
    process.env.MSP_MAX_BUNDLE_BYTES = String(64 * 1024);
    try {
      const bytes = Buffer.alloc(256 * 1024, 1);
      const digest = `sha256:${'b'.repeat(64)}`;
      const announced = await upload(digest, bytes);
      assert.equal(announced.status, 413);
      assert.match(((await announced.json()) as Json).error!.message, /larger than the limit of 65536 bytes/);
      const chunks = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 4; i++) controller.enqueue(bytes.subarray(i * 65536, (i + 1) * 65536));
          controller.close();
        },
      });
      const streamed = await upload(digest, chunks);
      assert.equal(streamed.status, 413);
    } finally {
      delete process.env.MSP_MAX_BUNDLE_BYTES;
    }
  });

  test('msp release create --from packs and uploads: the release is the uploaded bundle', async () => {
    const build = await stageRelease(releaseRegistryDir, join(repo.dir, 'build-v0.3.0'), {
      version: '0.3.0',
    });
    const packed = await pack(build);
    const run = await msp(['release', 'create', 'releaseregistry', '--version', 'v0.3.0', '--from', build]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`packed .*\\(${packed.digest}\\); uploading`));
    assert.match(run.stdout, /v0\.3\.0 is live on dev/);
  });

  test('a service without a database: backup and pg connect say so (412, exit 2)', async () => {
    const backup = await post('/backups', { deployment: 'plain/dev' });
    assert.equal(backup.status, 412);
    assert.match(backup.body.error!.message, /plain\/dev declares no database/);
    const connect = await post('/pg/connect', { deployment: 'plain/dev' });
    assert.equal(connect.status, 412);
    assert.match(connect.body.error!.message, /plain\/dev declares no database/);
    const cliBackup = await msp(['backup', 'create', 'plain', 'dev']);
    assert.equal(cliBackup.code, 2);
    assert.match(cliBackup.stderr, /declares no database/);
    assert.doesNotMatch(cliBackup.stdout, /taken and verified/);
    const cliConnect = await msp(['pg', 'connect', 'plain', 'dev', '--print']);
    assert.equal(cliConnect.code, 2);
    assert.match(cliConnect.stderr, /declares no database/);
  });

  test('a backup while another operation runs: the 409 names it and its age; --wait queues behind it', async () => {
    // A stand-in for a long operation: running for 90 s, owned by no worker.
    const blocker = await cp.store.createOperation({
      id: randomUUID(),
      kind: 'backup',
      deploymentKey: key,
      status: 'running',
      steps: [],
      input: {},
      reason: 'a long backup',
      createdBy: 'test',
      createdAt: new Date().toISOString(),
      attempt: 1,
    });
    // Held by a lease of the test's own (checkpoints are fenced by the lease owner).
    const leased = await cp.store.acquireLease(blocker.id, 'test', 600);
    const running = {
      ...blocker,
      attempt: leased!.attempt,
      startedAt: new Date(Date.now() - 90_000).toISOString(),
    };
    await cp.store.saveOperation(running, 'test');
    const busy = await post('/backups', { deployment: key });
    assert.equal(busy.status, 409);
    assert.match(
      busy.body.error!.message,
      new RegExp(`backup operation ${blocker.id} \\(running\\) has run for (89|9\\d) s`),
    );
    assert.match(busy.body.error!.message, /--wait/);
    assert.equal((busy.body.error!.details!.operation as { id: string }).id, blocker.id);

    const refused = await msp(['backup', 'create', 'releaseregistry', 'dev']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is busy: backup operation .* has run for/);

    let waiting = false;
    const queued = msp(['backup', 'create', 'releaseregistry', 'dev', '--wait'], (stderr) => {
      waiting ||= /is busy: backup operation .* waiting for it to finish/.test(stderr);
    });
    await eventually('the CLI to wait', 30_000, () => (waiting ? true : undefined));
    await cp.store.saveOperation(
      { ...running, status: 'succeeded', finishedAt: new Date().toISOString() },
      'test',
    );
    await cp.store.releaseLease(blocker.id, 'test');
    const done = await queued;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /succeeded; starting the backup/);
    assert.match(done.stdout, /backup \S+ taken and verified/);
  });
});
