import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  generate,
  writeGenerated,
  checkGenerated,
  readGenerated,
  recoveryCluster,
  modelsOf,
  CannotExpress,
} from '../index.js';
import { examplePlatform, load, edit } from '../testing/fixture.js';
import { CRD_KINDS, CRDS_MISSING, crdsPresent, documentsOf, validateManifest } from '../testing/validate.js';

const BOTH = ['dev', 'prod'] as const;

void test('every generated manifest of examples/platform validates against the real schemas', async (t) => {
  const dir = await examplePlatform('kubernetes', BOTH);
  t.after(() => rm(dir, { recursive: true, force: true }));
  const repo = await load(dir);
  const { files, deployments } = generate(repo, { target: 'kubernetes' });
  // Every deployment of both environments: services and instances alike.
  assert.deepEqual(deployments, [
    'releaseregistry/dev',
    'releaseregistry/prod',
    'sampleproduct/dev',
    'sampleproduct/prod',
    'instance/dev/dev-alice',
    'instance/prod/customer-globex',
    'instance/prod/customer-initech',
    'instance/prod/internal-demo',
  ]);
  const kinds = new Set<string>();
  const problems: string[] = [];
  let skipped = 0;
  for (const file of files) {
    if (file.path.endsWith('/kustomization.yaml')) continue;
    for (const doc of documentsOf(file.content)) {
      kinds.add(String(doc.kind));
      if (CRD_KINDS.includes(String(doc.kind)) && !crdsPresent()) {
        skipped++;
        continue;
      }
      problems.push(...validateManifest(doc).map((p) => `${file.path}: ${p}`));
    }
  }
  assert.deepEqual(problems, []);
  for (const kind of [
    'Namespace',
    'Deployment',
    'HorizontalPodAutoscaler',
    'Service',
    'Ingress',
    'NetworkPolicy',
    'PersistentVolumeClaim',
    'Cluster',
    'ObjectStore',
    'ScheduledBackup',
    'Schedule',
    'PrometheusRule',
    'Probe',
    'Application',
  ])
    assert.ok(kinds.has(kind), `a ${kind} is generated`);
  if (skipped > 0)
    t.diagnostic(`${skipped} CloudNativePG/Barman/Velero manifests not validated: ${CRDS_MISSING}`);
});

void test('a kustomization lists exactly the files of its folder and pins the release', async (t) => {
  const dir = await examplePlatform('kubernetes', ['prod']);
  t.after(() => rm(dir, { recursive: true, force: true }));
  const repo = await load(dir);
  const root = join(dir, 'generated');
  await writeGenerated(root, generate(repo, { target: 'kubernetes' }));
  const folder = join(root, 'kubernetes/prod/customer-globex');
  const [kustomization] = documentsOf(
    (await import('node:fs')).readFileSync(join(folder, 'kustomization.yaml'), 'utf8'),
  ) as [{ resources: string[]; images: { name: string; newTag: string }[] }];
  const present = (await readdir(folder))
    .filter((f) => f !== 'kustomization.yaml' && f !== 'application.yaml')
    .sort();
  assert.deepEqual(kustomization.resources, present);
  assert.deepEqual(kustomization.images, [
    { name: 'registry.example.com/acme/sampleproduct', newTag: 'v1.0.0' },
  ]);
});

void test('generation is byte-identical, and --check names every stale file', async (t) => {
  const dir = await examplePlatform('kubernetes', BOTH);
  t.after(() => rm(dir, { recursive: true, force: true }));
  const repo = await load(dir);
  const root = join(dir, 'generated');
  const first = generate(repo, { target: 'kubernetes', readExisting: readGenerated(root) });
  await writeGenerated(root, first);
  const again = generate(await load(dir), { target: 'kubernetes', readExisting: readGenerated(root) });
  assert.deepEqual(again.files, first.files);
  assert.deepEqual(await checkGenerated(root, again), { changed: [], missing: [], extra: [] });
});

/** The files (relative to generated/) that differ after one edit of the repo. */
async function changedBy(
  file: string,
  from: string,
  to: string,
  envs: readonly string[] = BOTH,
): Promise<string[]> {
  const dir = await examplePlatform('kubernetes', envs);
  try {
    const root = join(dir, 'generated');
    await writeGenerated(root, generate(await load(dir), { target: 'kubernetes' }));
    await edit(dir, file, from, to);
    const check = await checkGenerated(
      root,
      generate(await load(dir), { target: 'kubernetes', readExisting: readGenerated(root) }),
    );
    return [
      ...check.changed,
      ...check.missing.map((p) => `+${p}`),
      ...check.extra.map((p) => `-${p}`),
    ].sort();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void test('golden diff: one field of a service.yaml changes exactly the files it should', async () => {
  // Instance memory: the Deployment of prod only.
  assert.deepEqual(await changedBy('services/releaseregistry/service.yaml', 'memory: 1Gi', 'memory: 2Gi'), [
    'kubernetes/prod/releaseregistry/deployment.yaml',
  ]);
  // maxCount: the autoscaler and the instance-count alert's threshold.
  assert.deepEqual(await changedBy('services/releaseregistry/service.yaml', 'maxCount: 5', 'maxCount: 7'), [
    'kubernetes/prod/releaseregistry/hpa.yaml',
    'kubernetes/prod/releaseregistry/prometheusrule.yaml',
  ]);
  // maxConnections: the database and the connections alert.
  assert.deepEqual(
    await changedBy('services/releaseregistry/service.yaml', 'maxConnections: 100', 'maxConnections: 200'),
    [
      'kubernetes/prod/releaseregistry/cnpg-cluster.yaml',
      'kubernetes/prod/releaseregistry/prometheusrule.yaml',
    ],
  );
  // Synchronous WAL: the database cluster gets a synchronous standby (a second instance).
  assert.deepEqual(
    await changedBy(
      'services/releaseregistry/service.yaml',
      '        maxConnections: 100\n',
      '        maxConnections: 100\n        synchronousWal: true\n',
      ['prod'],
    ),
    ['kubernetes/prod/releaseregistry/cnpg-cluster.yaml'],
  );
  // An instance's version: that instance's pinned release only.
  assert.deepEqual(
    await changedBy(
      'environments/prod/deployments/customer-globex/config.yaml',
      'version: v1.0.0',
      'version: v1.1.0',
    ),
    ['kubernetes/prod/customer-globex/kustomization.yaml'],
  );
  // A new volume: the claim, its mount in the Deployment, its Velero schedule, listed in the kustomization.
  assert.deepEqual(
    await changedBy(
      'services/releaseregistry/service.yaml',
      '        maxConnections: 100\n',
      '        maxConnections: 100\n      volumes:\n        - name: cache\n          sizeGB: 3\n',
      ['prod'],
    ),
    [
      '+kubernetes/prod/releaseregistry/persistentvolumeclaim.yaml',
      '+kubernetes/prod/releaseregistry/velero-schedule.yaml',
      'kubernetes/prod/releaseregistry/deployment.yaml',
      'kubernetes/prod/releaseregistry/kustomization.yaml',
    ],
  );
});

void test('a restore renders a CloudNativePG Cluster bootstrapped by recovery up to the target time', async (t) => {
  const dir = await examplePlatform('kubernetes', ['prod']);
  t.after(() => rm(dir, { recursive: true, force: true }));
  const m = modelsOf(await load(dir), 'kubernetes').find((x) => x.deployment.key === 'releaseregistry/prod')!;
  const cluster = recoveryCluster(m, '2026-12-01T10:30:00Z') as unknown as {
    metadata: { name: string };
    spec: { bootstrap: unknown; externalClusters: unknown[] };
  };
  assert.equal(cluster.metadata.name, 'releaseregistry-db-20261201t103000z');
  assert.deepEqual(cluster.spec.bootstrap, {
    recovery: { source: 'origin', recoveryTarget: { targetTime: '2026-12-01T10:30:00.000Z' } },
  });
  assert.throws(() => recoveryCluster(m, 'yesterday'), /--to: .*not a time/);
  if (!crdsPresent()) return t.skip(CRDS_MISSING);
  assert.deepEqual(validateManifest(cluster as unknown as Record<string, unknown>), []);
});

void test('a spec the target cannot express: an error naming the field and the target, nothing written', async (t) => {
  const dir = await examplePlatform('kubernetes', ['prod']);
  t.after(() => rm(dir, { recursive: true, force: true }));
  await edit(
    dir,
    'services/releaseregistry/service.yaml',
    'monitoring:\n  alerts:\n',
    "monitoring:\n  alerts:\n    customAlerts:\n      - name: Queue\n        description: Long queue.\n        condition:\n          type: mql\n          query: 'fetch x'\n",
  );
  const repo = await load(dir);
  assert.throws(
    () => generate(repo, { target: 'kubernetes' }),
    (error: unknown) =>
      error instanceof CannotExpress &&
      error.field === 'monitoring.alerts.customAlerts[0].condition.type' &&
      error.target === 'kubernetes' &&
      /services\/releaseregistry\/service\.yaml: monitoring\.alerts\.customAlerts\[0\]\.condition\.type: the kubernetes target cannot express this: a mql query/.test(
        error.message,
      ),
  );
});

void test('the validators refuse what a real API server refuses', async (t) => {
  const dir = await examplePlatform('kubernetes', ['prod']);
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { files } = generate(await load(dir), { target: 'kubernetes' });
  const doc = (name: string) =>
    documentsOf(files.find((f) => f.path === `kubernetes/prod/releaseregistry/${name}`)!.content)[0]!;
  const deployment = doc('deployment.yaml') as { spec: { replicas: unknown } };
  deployment.spec.replicas = 'two';
  assert.match(validateManifest(deployment).join('\n'), /replicas/);
  const rule = doc('prometheusrule.yaml') as { spec: { groups: { rules: { expr?: unknown }[] }[] } };
  delete rule.spec.groups[0]!.rules[0]!.expr;
  assert.match(validateManifest(rule).join('\n'), /expr/);
  if (!crdsPresent()) return t.skip(CRDS_MISSING);
  const cluster = doc('cnpg-cluster.yaml') as { spec: Record<string, unknown> };
  cluster.spec.instancez = 2;
  assert.match(validateManifest(cluster).join('\n'), /instancez/);
  const store = doc('barman-objectstore.yaml') as { spec: { configuration: Record<string, unknown> } };
  delete store.spec.configuration.destinationPath;
  assert.match(validateManifest(store).join('\n'), /destinationPath/);
});

void test('Redis on kubernetes is refused naming the field, not silently left out', async (t) => {
  const dir = await examplePlatform('kubernetes', ['prod']);
  t.after(() => rm(dir, { recursive: true, force: true }));
  await edit(
    dir,
    'services/releaseregistry/service.yaml',
    '        maxConnections: 100\n',
    '        maxConnections: 100\n      redis:\n        memoryGB: 1\n',
  );
  const repo = await load(dir);
  assert.throws(
    () => generate(repo, { target: 'kubernetes' }),
    /services\/releaseregistry\/service\.yaml: environments\[prod\]\.resources\.redis: the kubernetes target cannot express this/,
  );
});

void test('synchronousWal: a synchronous standby on kubernetes, a regional instance on gcp', async (t) => {
  const dir = await examplePlatform('kubernetes', ['prod']);
  t.after(() => rm(dir, { recursive: true, force: true }));
  await edit(
    dir,
    'services/releaseregistry/service.yaml',
    '        maxConnections: 100\n',
    '        maxConnections: 100\n        synchronousWal: true\n',
  );
  const file = generate(await load(dir), { target: 'kubernetes' }).files.find(
    (f) => f.path === 'kubernetes/prod/releaseregistry/cnpg-cluster.yaml',
  )!;
  const [cluster] = documentsOf(file.content) as {
    spec: { instances: number; postgresql: { synchronous?: unknown } };
  }[];
  assert.equal(cluster!.spec.instances, 2);
  assert.deepEqual(cluster!.spec.postgresql.synchronous, {
    method: 'any',
    number: 1,
    dataDurability: 'required',
  });
  const gcpDir = await examplePlatform('gcp', ['prod']);
  t.after(() => rm(gcpDir, { recursive: true, force: true }));
  const sql = async () =>
    generate(await load(gcpDir), { target: 'gcp' })
      .files.filter((f) => f.path.startsWith('gcp/prod/releaseregistry/'))
      .map((f) => f.content)
      .join('\n');
  assert.match(await sql(), /"availability_type": "ZONAL"/);
  await edit(
    gcpDir,
    'services/releaseregistry/service.yaml',
    '        maxConnections: 100\n',
    '        maxConnections: 100\n        synchronousWal: true\n',
  );
  assert.match(await sql(), /"availability_type": "REGIONAL"/);
  if (!crdsPresent()) return t.skip(CRDS_MISSING);
  assert.deepEqual(validateManifest(cluster as unknown as Record<string, unknown>), []);
});
