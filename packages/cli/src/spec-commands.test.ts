// The spec commands, run as a user runs them: `node packages/cli/bin/msp.js ...` in a subprocess.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT, runMsp } from './testing.js';

const EXAMPLE = join(ROOT, 'examples', 'platform');
const msp = runMsp;

async function withRepo(files: Record<string, string>, fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'msp-cli-spec-'));
  try {
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), content);
    }
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const PLATFORM = `organization: { name: Acme Corp }
baseDomain: acme.localhost
environments:
  - { id: dev, category: test }
  - { id: prod, category: internal }
`;

void test('msp spec validate: the example platform repo is valid (exit 0, one summary line)', async () => {
  const r = await msp(['spec', 'validate', '--repo', EXAMPLE]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /is valid: 2 services, 4 instances, 2 environments\n$/);
});

void test('msp spec validate: the repo defaults to the current directory', async () => {
  const r = await msp(['spec', 'validate'], EXAMPLE);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, '. is valid: 2 services, 4 instances, 2 environments\n');
});

void test('acceptance: one spec with five different mistakes exits 2 with five positioned errors', async () => {
  const spec = `service:
  id: Release_Registry
  owners: [dev-experience]
  description: Keeps track of releases.
  colour: blue
environments:
  - id: dev
    category: test
    deploy:
      type: rollout
    domain: rr.acme.localhost
    instances:
      resources:
        cpu: two
  - id: prod
    category: internal
    deploy:
      type: manual
    domain: rr.acme.localhost
rollout:
  stages:
    - environment: dev
    - environment: prod
`;
  await withRepo({ 'msp.yaml': PLATFORM, 'services/releaseregistry/service.yaml': spec }, async (root) => {
    const r = await msp(['spec', 'validate', '--repo', root]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const errors = r.stdout
      .split('\n')
      .filter((l) => /^services\/releaseregistry\/service\.yaml:\d+:\d+: /.test(l));
    assert.deepEqual(
      errors.map((l) => l.split(': ').slice(0, 2).join(': ')),
      [
        'services/releaseregistry/service.yaml:2:7: service.id', // bad id
        'services/releaseregistry/service.yaml:5:3: service.colour', // unknown key
        'services/releaseregistry/service.yaml:14:14: environments[0].instances.resources.cpu', // wrong type
        'services/releaseregistry/service.yaml:19:13: environments[1].domain', // duplicate domain
        'services/releaseregistry/service.yaml:23:20: rollout.stages[1].environment', // stage not `rollout`
      ],
    );
    assert.match(r.stdout, /\n5 errors\n$/);
    assert.equal(r.stdout.trim().split('\n').length, 6);
  });
});

void test('malformed YAML exits 2 with the parser position and no stack trace', async () => {
  await withRepo(
    { 'msp.yaml': PLATFORM, 'services/x/service.yaml': 'service:\n  id: x\n  owners: [a\n' },
    async (root) => {
      const r = await msp(['spec', 'validate', '--repo', root]);
      assert.equal(r.code, 2);
      assert.match(r.stdout, /^services\/x\/service\.yaml:4:1: malformed YAML: /);
      assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /);
    },
  );
});

void test('msp spec validate --json', async () => {
  const ok = await msp(['spec', 'validate', '--repo', EXAMPLE, '--json']);
  assert.equal(ok.code, 0);
  assert.deepEqual(JSON.parse(ok.stdout), {
    valid: true,
    diagnostics: [],
    summary: { services: 2, instances: 4, environments: 2 },
  });
  await withRepo({}, async (root) => {
    const bad = await msp(['spec', 'validate', '--repo', root, '--json']);
    assert.equal(bad.code, 2);
    const out = JSON.parse(bad.stdout) as { valid: boolean; diagnostics: { file: string; line: number }[] };
    assert.equal(out.valid, false);
    assert.equal(out.diagnostics[0]?.file, 'msp.yaml');
  });
});

void test('msp spec schema prints JSON Schema; an unknown kind exits 2', async () => {
  for (const [args, id] of [
    [[], 'urn:msp:schema:service'],
    [['instance'], 'urn:msp:schema:instance'],
    [['platform'], 'urn:msp:schema:platform'],
  ] as const) {
    const r = await msp(['spec', 'schema', ...args]);
    assert.equal(r.code, 0);
    assert.equal((JSON.parse(r.stdout) as { $id: string }).$id, id);
  }
  const bad = await msp(['spec', 'schema', 'widget']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown schema `widget`; choose one of service, instance, platform/);
});

void test('msp init scaffolds a valid service from the repo environments; refuses duplicates and bad ids', async () => {
  await withRepo({ 'msp.yaml': PLATFORM }, async (root) => {
    const r = await msp(['init', 'billing', '--repo', root, '--owner', 'payments']);
    assert.equal(r.code, 0, r.stderr);
    const yaml = await readFile(join(root, 'services', 'billing', 'service.yaml'), 'utf8');
    assert.match(yaml, /- "payments"/);
    assert.match(yaml, /stages:\n {4}- environment: dev\n {4}- environment: prod\n/);
    const readme = await readFile(join(root, 'services', 'billing', 'README.md'), 'utf8');
    assert.match(readme, /^# billing\n/);
    const valid = await msp(['spec', 'validate', '--repo', root]);
    assert.equal(valid.code, 0, valid.stdout);

    const again = await msp(['init', 'billing', '--repo', root]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /service `billing` already exists/);

    const bad = await msp(['init', 'Billing_2', '--repo', root]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /lowercase letters, digits and dashes/);
    const long = await msp(['init', 'a'.repeat(21), '--repo', root]);
    assert.equal(long.code, 2);
    assert.match(long.stderr, /at most 20 are allowed/);
  });
});
