import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { generate, CannotExpress, type GeneratedFile } from '../index.js';
import { examplePlatform, load, edit, REPO_ROOT } from '../testing/fixture.js';
import {
  checkResource,
  PROVIDER_PACKAGE,
  providerVersion,
  resourceSchema,
  checkBlock,
} from '../testing/google-schema.js';

type TfJson = { resource?: Record<string, Record<string, unknown>>; provider?: { google?: unknown[] } };

async function gcpFiles(envs: readonly string[] = ['dev', 'prod']): Promise<GeneratedFile[]> {
  const dir = await examplePlatform('gcp', envs);
  try {
    return generate(await load(dir), { target: 'gcp' }).files;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void test(`every google resource and attribute is in the provider schema (${PROVIDER_PACKAGE})`, async (t) => {
  const files = await gcpFiles();
  const problems: string[] = [];
  const types = new Set<string>();
  for (const f of files) {
    const tf = JSON.parse(f.content) as TfJson;
    for (const p of tf.provider?.google ?? [])
      problems.push(...checkBlock(resourceSchema('provider')!, p, `${f.path} provider.google`));
    for (const [type, resources] of Object.entries(tf.resource ?? {})) {
      if (!type.startsWith('google_')) continue; // tfe_workspace: the tfe provider
      types.add(type);
      for (const [name, body] of Object.entries(resources))
        problems.push(...checkResource(type, body).map((p) => `${f.path} ${name}: ${p}`));
    }
  }
  assert.deepEqual(problems, []);
  for (const type of [
    'google_project',
    'google_service_account',
    'google_project_iam_member',
    'google_cloud_run_v2_service',
    'google_sql_database_instance',
    'google_sql_user',
    'google_clouddeploy_delivery_pipeline',
    'google_clouddeploy_target',
    'google_monitoring_alert_policy',
    'google_monitoring_uptime_check_config',
  ])
    assert.ok(types.has(type), `${type} is generated`);
  t.diagnostic(`checked against ${PROVIDER_PACKAGE} ${providerVersion()}`);
});

void test('the schema check refuses a misspelt attribute and an unknown resource', () => {
  assert.deepEqual(checkResource('google_sql_user', { instance: 'x', name: 'y', typo: 1 }), [
    'google_sql_user.typo: no such attribute or block',
  ]);
  assert.match(
    checkResource('google_cloud_run_v2_service', { template: { scaling: { max_instances: 3 } } }).join(),
    /template\.scaling\.max_instances: no such/,
  );
  assert.match(checkResource('google_cloud_run_v3_service', {}).join(), /no such resource/);
});

void test('gcp output is stable and has every stack for every deployment', async () => {
  const a = await gcpFiles();
  assert.deepEqual(await gcpFiles(), a);
  const stacks = new Map<string, string[]>();
  for (const f of a) {
    const [, env, name, stack] = f.path.split('/');
    const key = `${env}/${name}`;
    stacks.set(key, [...(stacks.get(key) ?? []), stack!]);
  }
  const base = ['cloudrun', 'iam', 'monitoring', 'project', 'workspaces'];
  assert.deepEqual(Object.fromEntries(stacks), {
    'dev/releaseregistry': base,
    'dev/sampleproduct': base,
    'dev/dev-alice': base,
    // The Cloud Deploy pipeline lives with the last stage of the rollout.
    'prod/releaseregistry': ['cloudrun', 'iam', 'monitoring', 'project', 'rollout', 'workspaces'],
    'prod/sampleproduct': base,
    'prod/customer-globex': base,
    'prod/customer-initech': base,
    'prod/internal-demo': base,
  });
  const sql = JSON.parse(
    a.find((f) => f.path === 'gcp/prod/releaseregistry/cloudrun/cloudrun.tf.json')!.content,
  ) as TfJson;
  const backup = (
    sql.resource!.google_sql_database_instance!.database as { settings: { backup_configuration: unknown } }
  ).settings.backup_configuration;
  assert.deepEqual(backup, {
    backup_retention_settings: { retained_backups: 90, retention_unit: 'COUNT' },
    enabled: true,
    point_in_time_recovery_enabled: true,
    start_time: '03:00',
    transaction_log_retention_days: 7,
  });
  const ws = JSON.parse(
    a.find((f) => f.path === 'gcp/prod/releaseregistry/workspaces/workspaces.tf.json')!.content,
  ) as TfJson;
  assert.deepEqual(
    Object.values(ws.resource!.tfe_workspace!).map((w) => (w as { name: string }).name),
    ['cloudrun', 'iam', 'monitoring', 'project', 'rollout'].map((s) => `msp-releaseregistry-prod-${s}`),
  );
});

/** Golden files: packages/generate/golden/<path>; MSP_UPDATE_GOLDEN=1 rewrites them. */
async function golden(files: GeneratedFile[], prefix: string): Promise<void> {
  const chosen = files.filter((f) => f.path.startsWith(prefix));
  assert.ok(chosen.length > 0);
  for (const f of chosen) {
    const path = join(REPO_ROOT, 'packages', 'generate', 'golden', f.path);
    if (process.env.MSP_UPDATE_GOLDEN === '1') {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, f.content);
    }
    assert.equal(
      f.content,
      await readFile(path, 'utf8'),
      `${f.path} differs from its golden file (MSP_UPDATE_GOLDEN=1 to accept)`,
    );
  }
}

void test('golden: the gcp stacks of releaseregistry/prod', async () => {
  await golden(await gcpFiles(), 'gcp/prod/releaseregistry/');
});

void test('golden: the kubernetes folder of releaseregistry/prod', async (t) => {
  const dir = await examplePlatform('kubernetes', ['prod']);
  t.after(() => rm(dir, { recursive: true, force: true }));
  await golden(generate(await load(dir), { target: 'kubernetes' }).files, 'kubernetes/prod/releaseregistry/');
});

void test('gcp refuses what it cannot express, naming the field', async (t) => {
  const dir = await examplePlatform('gcp', ['prod']);
  t.after(() => rm(dir, { recursive: true, force: true }));
  await edit(
    dir,
    'services/releaseregistry/service.yaml',
    '        maxConnections: 100\n',
    '        maxConnections: 100\n      redis:\n        memoryGB: 1\n',
  );
  const repo = await load(dir);
  assert.throws(
    () => generate(repo, { target: 'gcp' }),
    (e: unknown) =>
      e instanceof CannotExpress && e.target === 'gcp' && e.field === 'environments[prod].resources.redis',
  );
});
