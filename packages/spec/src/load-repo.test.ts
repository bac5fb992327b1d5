import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { deploymentsOf, formatDiagnostic, loadPlatformRepo } from './index.js';
import type { Diagnostic } from './index.js';
import { makeRepo, PLATFORM_YAML, PRODUCT_YAML } from './test-fixtures.js';

const EXAMPLE = join(import.meta.dirname, '..', '..', '..', 'examples', 'platform');

async function load(files: Record<string, string>) {
  const repo = await makeRepo(files);
  try {
    return await loadPlatformRepo(repo.root);
  } finally {
    await repo.cleanup();
  }
}
const lines = (ds: Diagnostic[]) => ds.map(formatDiagnostic);

const instance = (fields: Record<string, string>) =>
  Object.entries({
    service: 'product',
    customer: 'globex',
    type: 'production',
    adminEmail: 'it@globex.example',
    version: 'v1.0.0',
    ...fields,
  })
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n') + '\n';

void test('the example platform repo is valid, with every default filled in', async () => {
  const { repo, diagnostics } = await loadPlatformRepo(EXAMPLE);
  assert.deepEqual(lines(diagnostics), []);
  assert.ok(repo);
  assert.deepEqual(
    repo.services.map((s) => s.spec.service.id),
    ['releaseregistry', 'sampleproduct'],
  );
  assert.equal(repo.services[0]?.specFile, 'services/releaseregistry/service.yaml');
  assert.match(repo.services[0]?.readme ?? '', /^# Release Registry\n/);
  assert.deepEqual(
    repo.instances.map((i) => `${i.environment}/${i.id} ${i.type} ${i.domain}`),
    [
      'dev/dev-alice trial alice.dev.acme.localhost',
      'prod/customer-globex production globex.acme.localhost',
      'prod/customer-initech production initech.acme.localhost',
      'prod/internal-demo internal demo.acme.localhost',
    ],
  );
  assert.equal(repo.instances[0]?.file, 'environments/dev/deployments/dev-alice/config.yaml');
  assert.equal(repo.platform.environments[1]?.access.restricted, true);
  assert.equal(repo.platform.environments[0]?.access.restricted, false);
  assert.deepEqual(
    deploymentsOf(repo).map((d) => `${d.key} ${d.domain ?? '-'}`),
    [
      'releaseregistry/dev releaseregistry.dev.acme.localhost',
      'releaseregistry/prod releaseregistry.acme.localhost',
      'sampleproduct/dev -',
      'sampleproduct/prod -',
      'instance/dev/dev-alice alice.dev.acme.localhost',
      'instance/prod/customer-globex globex.acme.localhost',
      'instance/prod/customer-initech initech.acme.localhost',
      'instance/prod/internal-demo demo.acme.localhost',
    ],
  );
  const demo = deploymentsOf(repo).find((d) => d.key === 'instance/prod/internal-demo');
  assert.equal(demo?.environment.id, 'prod');
  assert.equal(demo?.service.service.id, 'sampleproduct');
});

void test('a missing msp.yaml names what to create; an unreadable dir is a diagnostic', async () => {
  const missing = await load({ 'services/product/service.yaml': PRODUCT_YAML });
  assert.equal(missing.repo, undefined);
  assert.equal(missing.diagnostics.length, 1);
  assert.match(formatDiagnostic(missing.diagnostics[0]!), /^msp\.yaml:1:1: missing msp\.yaml .*create it/);

  const nowhere = await loadPlatformRepo('/nonexistent/msp-repo');
  assert.equal(nowhere.diagnostics.length, 1);
  assert.match(nowhere.diagnostics[0]!.message, /cannot read the platform repo/);
});

void test('the services/<id> folder name equals service.id', async () => {
  const { diagnostics } = await load({
    'msp.yaml': PLATFORM_YAML,
    'services/other/service.yaml': PRODUCT_YAML,
  });
  assert.deepEqual(lines(diagnostics), [
    'services/other/service.yaml:2:7: service.id: service id `product` must equal its folder name `other`; rename one of them',
  ]);
});

void test('a folder under services/ without service.yaml is reported', async () => {
  const { diagnostics } = await load({ 'msp.yaml': PLATFORM_YAML, 'services/empty/README.md': '# x\n' });
  assert.equal(diagnostics.length, 1);
  assert.match(formatDiagnostic(diagnostics[0]!), /^services\/empty\/service\.yaml:1:1: .*msp init empty/);
});

void test('a service environment that msp.yaml lacks', async () => {
  const { diagnostics } = await load({
    'msp.yaml': PLATFORM_YAML,
    'services/product/service.yaml': PRODUCT_YAML.replace('  - id: prod\n', '  - id: staging\n'),
  });
  assert.deepEqual(lines(diagnostics), [
    'services/product/service.yaml:9:9: environments[1].id: environment `staging` is not declared in msp.yaml (declared: dev, prod)',
  ]);
});

void test('an instance in an environment that msp.yaml lacks', async () => {
  const { diagnostics } = await load({
    'msp.yaml': PLATFORM_YAML,
    'services/product/service.yaml': PRODUCT_YAML,
    'environments/staging/deployments/globex/config.yaml': instance({}),
  });
  assert.equal(diagnostics.length, 2, lines(diagnostics).join('\n'));
  assert.match(
    lines(diagnostics)[0]!,
    /config\.yaml:1:1: environment `staging` .* is not declared in msp\.yaml/,
  );
  assert.match(
    lines(diagnostics)[1]!,
    /config\.yaml:1:10: service: service `product` does not declare environment `staging`/,
  );
});

void test('an instance of a service that does not exist', async () => {
  const { diagnostics } = await load({
    'msp.yaml': PLATFORM_YAML,
    'services/product/service.yaml': PRODUCT_YAML,
    'environments/prod/deployments/globex/config.yaml': instance({ service: 'nosuch' }),
  });
  assert.deepEqual(lines(diagnostics), [
    'environments/prod/deployments/globex/config.yaml:1:10: service: service `nosuch` does not exist in services/ (services: product)',
  ]);
});

void test('an instance environment that its product service does not declare', async () => {
  const devOnly = PRODUCT_YAML.split('  - id: prod')[0]!;
  const { diagnostics } = await load({
    'msp.yaml': PLATFORM_YAML,
    'services/product/service.yaml': devOnly,
    'environments/prod/deployments/globex/config.yaml': instance({}),
  });
  assert.deepEqual(lines(diagnostics), [
    'environments/prod/deployments/globex/config.yaml:1:10: service: service `product` does not declare environment `prod`; add it to services/product/service.yaml',
  ]);
});

void test('ttl is required in test environments and refused elsewhere', async () => {
  const { diagnostics } = await load({
    'msp.yaml': PLATFORM_YAML,
    'services/product/service.yaml': PRODUCT_YAML,
    'environments/dev/deployments/dev-a/config.yaml': instance({ customer: 'a', type: 'trial' }),
    'environments/dev/deployments/dev-b/config.yaml': instance({ customer: 'b', type: 'trial', ttl: '72h' }),
    'environments/prod/deployments/c/config.yaml': instance({ customer: 'c', ttl: '72h' }),
  });
  assert.deepEqual(lines(diagnostics), [
    'environments/dev/deployments/dev-a/config.yaml:1:1: ttl: `ttl` is required in environment `dev` (category test), e.g. `ttl: 72h`',
    'environments/prod/deployments/c/config.yaml:6:1: ttl: `ttl` is only for test environments; `prod` is category internal',
  ]);
});

void test('instance folder ids follow the slug rule', async () => {
  const { diagnostics } = await load({
    'msp.yaml': PLATFORM_YAML,
    'services/product/service.yaml': PRODUCT_YAML,
    'environments/prod/deployments/Globex_Corp/config.yaml': instance({}),
    ['environments/prod/deployments/' + 'a'.repeat(31) + '/config.yaml']: instance({ customer: 'other' }),
    'environments/prod/deployments/initech/config.yaml': instance({ customer: 'initech' }),
  });
  assert.equal(diagnostics.length, 2, lines(diagnostics).join('\n'));
  assert.match(
    lines(diagnostics)[0]!,
    /Globex_Corp\/config\.yaml:1:1: instance folder `Globex_Corp` must start/,
  );
  assert.match(lines(diagnostics)[1]!, /aaaa\/config\.yaml:1:1: instance folder `a+` .*at most 30/);
});

void test('a domain is used once anywhere: service environments, instances, defaulted instance domains', async () => {
  const withDomains = PRODUCT_YAML.replace(
    '    deploy: { type: manual }\n  - id: prod',
    '    deploy: { type: manual }\n    domain: globex.acme.localhost\n  - id: prod',
  );
  const { diagnostics } = await load({
    'msp.yaml': PLATFORM_YAML,
    'services/product/service.yaml': withDomains,
    // default domain globex.acme.localhost in prod collides with the service's dev domain
    'environments/prod/deployments/globex/config.yaml': instance({}),
    'environments/prod/deployments/initech/config.yaml': instance({
      customer: 'initech',
      domain: 'shared.example.com',
    }),
    'environments/prod/deployments/umbrella/config.yaml': instance({
      customer: 'umbrella',
      domain: 'shared.example.com',
    }),
  });
  assert.deepEqual(lines(diagnostics), [
    'environments/prod/deployments/globex/config.yaml:1:1: domain: domain `globex.acme.localhost` (the default for this instance; set `domain` to another name) is already used by service product, environment dev (services/product/service.yaml:9:13)',
    'environments/prod/deployments/umbrella/config.yaml:6:9: domain: domain `shared.example.com` is already used by instance prod/initech (environments/prod/deployments/initech/config.yaml:6:9)',
  ]);
});

void test('every mistake of every file is reported at once, sorted by file, line, column', async () => {
  const { diagnostics, repo } = await load({
    'msp.yaml': PLATFORM_YAML.replace(
      'baseDomain: acme.localhost',
      'baseDomain: Acme.localhost\ncolour: red',
    ),
    'services/product/service.yaml': PRODUCT_YAML.replace('category: internal', 'category: prod'),
    'environments/prod/deployments/globex/config.yaml': instance({ type: 'gold', channel: 'beta' }),
  });
  assert.equal(repo, undefined);
  assert.deepEqual(
    diagnostics.map((d) => `${d.file}:${d.line}:${d.column} ${d.path}`),
    [
      'environments/prod/deployments/globex/config.yaml:3:7 type',
      'environments/prod/deployments/globex/config.yaml:6:10 channel',
      'msp.yaml:3:13 baseDomain',
      'msp.yaml:4:1 colour',
      'services/product/service.yaml:10:15 environments[1].category',
    ],
  );
});

void test('msp.yaml rules: environments, ids, categories, runtimes, links', async () => {
  const bad = `organization: { name: Acme }
baseDomain: acme.localhost
environments:
  - id: dev
    category: test
    runtime: docker
  - id: dev
    category: internal
links:
  platformDocs: docs.example.com
`;
  const { diagnostics } = await load({ 'msp.yaml': bad });
  assert.deepEqual(
    diagnostics.map((d) => `${d.line}:${d.column} ${d.path}: ${d.message}`),
    [
      '6:14 environments[0].runtime: must be one of `local`, `kubernetes`, `gcp`, got the string `docker`',
      '7:9 environments[1].id: duplicate environment id `dev`',
      '10:17 links.platformDocs: must be an http(s) URL such as `https://example.com/path`',
    ],
  );
  const none = await load({
    'msp.yaml': 'organization: { name: Acme }\nbaseDomain: acme.localhost\nenvironments: []\n',
  });
  assert.match(formatDiagnostic(none.diagnostics[0]!), /msp\.yaml:3:15: environments: needs at least 1 item/);
});

void test('instance config rules: type, email, version, channel, ttl format', async () => {
  const { diagnostics } = await load({
    'msp.yaml': PLATFORM_YAML,
    'services/product/service.yaml': PRODUCT_YAML,
    'environments/dev/deployments/x/config.yaml': instance({
      customer: 'X',
      type: 'trial',
      adminEmail: 'nobody',
      version: 'latest',
      ttl: 'forever',
    }),
  });
  assert.deepEqual(
    diagnostics.map((d) => d.path),
    ['customer', 'adminEmail', 'version', 'ttl'],
  );
});

void test('a file that cannot be read is a diagnostic, not a crash', async () => {
  // service.yaml is a folder here: reading it fails with EISDIR, even for root.
  const { diagnostics } = await load({ 'msp.yaml': PLATFORM_YAML, 'services/product/service.yaml/oops': '' });
  assert.equal(diagnostics.length, 1);
  assert.match(diagnostics[0]!.message, /cannot read .*service\.yaml \(EISDIR\); check its permissions/);
});
