/**
 * The kubernetes and gcp targets through the real control plane: deployments of their environments are
 * handed over (their generated files checked), the kubernetes one's pods are read from a cluster with
 * @kubernetes/client-node (a stand-in API server on 127.0.0.1: no cluster exists here), the gcp one says
 * "generated, not observed", and what only the engine does is refused naming the tool that does it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate, readGenerated, writeGenerated } from '@msp/generate';
import { loadPlatformRepo } from '@msp/spec';
import { findFreePort } from '@msp/runtime-local';
import { startControlPlane, type ControlPlane } from '../../server.js';
import { eventually } from '../../testing/fixture-repo.js';
import { createGcpTarget } from '../gcp/index.js';
import { createKubernetesTarget, NOT_OBSERVED } from './index.js';

async function repo(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'msp-k8s-target-'));
  await chmod(dir, 0o711);
  await writeFile(
    join(dir, 'msp.yaml'),
    [
      'organization: { name: Test Org }',
      'baseDomain: test.localhost',
      'environments:',
      '  - { id: dev, category: test, runtime: gcp }',
      '  - { id: prod, category: internal, runtime: kubernetes }',
      'links: { repository: "https://git.example.com/test/platform" }',
      '',
    ].join('\n'),
  );
  await mkdir(join(dir, 'services', 'shop'), { recursive: true });
  await writeFile(
    join(dir, 'services', 'shop', 'service.yaml'),
    [
      'service: { id: shop, owners: [platform], description: Sells things. }',
      'build: { image: registry.example.com/shop }',
      'environments:',
      '  - { id: dev, category: test, deploy: { type: rollout }, resources: { postgreSQL: { databases: [shop] } } }',
      '  - id: prod',
      '    category: internal',
      '    deploy: { type: rollout }',
      '    domain: shop.test.localhost',
      '    instances: { resources: { memory: 1Gi } }',
      '    resources: { postgreSQL: { databases: [shop] } }',
      'rollout: { stages: [{ environment: dev }, { environment: prod }] }',
      '',
    ].join('\n'),
  );
  const { repo: loaded } = await loadPlatformRepo(dir);
  const root = join(dir, 'generated');
  for (const target of ['kubernetes', 'gcp'] as const)
    await writeGenerated(root, generate(loaded!, { target, readExisting: readGenerated(root) }));
  return dir;
}

describe('kubernetes and gcp targets', () => {
  let dir: string;
  let cp: ControlPlane;
  let cluster: Server;
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];

  before(async () => {
    dir = await repo();
    // A stand-in Kubernetes API server: the pod list of shop-prod.
    cluster = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      if (!req.url?.startsWith('/api/v1/namespaces/shop-prod/pods')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
        return;
      }
      const pod = (name: string, ready: boolean, restarts: number) => ({
        metadata: { name, namespace: 'shop-prod' },
        status: {
          phase: 'Running',
          conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
          containerStatuses: [
            {
              name: 'shop',
              ready,
              restartCount: restarts,
              image: 'registry.example.com/shop:v0.3.0',
              imageID: '',
              ...(ready ? {} : { state: { waiting: { reason: 'CrashLoopBackOff' } } }),
            },
          ],
        },
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          kind: 'PodList',
          apiVersion: 'v1',
          metadata: {},
          items: [pod('shop-7d9f-a', true, 2), pod('shop-7d9f-b', false, 5)],
        }),
      );
    });
    const port = await findFreePort();
    await new Promise<void>((r) => cluster.listen(port, '127.0.0.1', r));
    // The stand-in speaks plain HTTP on the loopback, which the client accepts only without TLS checks.
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{ name: test, cluster: { server: "http://127.0.0.1:' +
          port +
          '", insecure-skip-tls-verify: true } }]',
        'users: [{ name: test, user: { token: test-token } }]',
        'contexts: [{ name: test, context: { cluster: test, user: test } }]',
        'current-context: test',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    cp = await startControlPlane({
      repoDir: dir,
      port: await findFreePort(),
      targets: { kubernetes: createKubernetesTarget({ kubeconfig, pollMs: 200 }), gcp: createGcpTarget() },
      modules: [],
      log: () => undefined,
    });
  });

  after(async () => {
    await cp?.stop();
    cluster?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a kubernetes deployment is handed over and its pods are read from the cluster', async () => {
    const row = await eventually('shop/prod handed over', 30_000, async () => {
      const d = await cp.store.getDeployment('shop/prod');
      return d?.status === 'generated' ? d : undefined;
    });
    assert.equal(row.statusDetail, 'generated/kubernetes/prod/shop is up to date; Argo CD applies it');
    assert.equal(row.release, 'insiders');
    // Handed over once: the next reconcile plans nothing more for it.
    const again = await cp.reconcileNow('test');
    assert.deepEqual(
      again.actions.filter((a) => a.key === 'shop/prod'),
      [],
    );
    const status = await eventually('pods observed', 10_000, () => {
      const s = cp.runtime.status('shop/prod');
      return Promise.resolve(s?.instances.length === 2 ? s : undefined);
    });
    assert.deepEqual(status.instances, [
      { id: 'shop-7d9f-a', state: 'healthy', restarts: 2, release: 'v0.3.0' },
      {
        id: 'shop-7d9f-b',
        state: 'CrashLoopBackOff',
        restarts: 5,
        release: 'v0.3.0',
        lastError: 'CrashLoopBackOff',
      },
    ]);
    assert.deepEqual(status.urls, ['https://shop.test.localhost']);
    const call = seen.find((s) => s.url.includes('/pods'))!;
    assert.match(decodeURIComponent(call.url), /labelSelector=app\.kubernetes\.io\/name=shop/);
    assert.equal(call.headers.authorization, 'Bearer test-token');
  });

  test('a gcp deployment is handed over and says it is not observed', async () => {
    await eventually('shop/dev handed over', 30_000, async () =>
      (await cp.store.getDeployment('shop/dev'))?.status === 'generated' ? true : undefined,
    );
    assert.equal(cp.runtime.status('shop/dev')?.instances[0]?.state, NOT_OBSERVED);
  });

  test('stale generated files show in the status, naming them', async () => {
    const spec = join(dir, 'services', 'shop', 'service.yaml');
    await writeFile(spec, (await readFile(spec, 'utf8')).replace('memory: 1Gi', 'memory: 2Gi'));
    await cp.reconcileNow('test');
    const row = await eventually('shop/prod stale', 30_000, async () => {
      const d = await cp.store.getDeployment('shop/prod');
      return d?.status === 'stale' ? d : undefined;
    });
    assert.match(
      row.statusDetail ?? '',
      /generated\/kubernetes\/prod\/shop is stale \(1 file: kubernetes\/prod\/shop\/deployment\.yaml\): run `msp generate --target kubernetes` and commit/,
    );
  });

  test('what only the engine does is refused, naming the tool', async () => {
    await assert.rejects(
      cp.runtime.databases.baseBackup('shop/prod', { id: 'x', label: 'x', fast: true }),
      /On kubernetes, MSP does not operate databases .*CloudNativePG takes the base backups/,
    );
    await assert.rejects(
      cp.runtime.grantDatabaseAccess('shop/dev', { access: 'read', validForSeconds: 60 }),
      /On gcp, .*Cloud SQL Auth Proxy/,
    );
  });
});
