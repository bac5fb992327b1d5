import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { alertPoliciesFor } from '@msp/core';
import { generateHandbook, formatTimestamp } from './index.js';
import { DATE, EXAMPLES_PLATFORM, loadRepo, withRepo } from './test-support.js';

function text(content: string | Uint8Array | undefined): string {
  assert.ok(content !== undefined, 'file expected');
  return typeof content === 'string' ? content : Buffer.from(content).toString('utf8');
}

/** Asserts the needles occur in this order; returns their positions. */
function assertInOrder(haystack: string, needles: readonly string[]): void {
  let from = 0;
  for (const needle of needles) {
    const at = haystack.indexOf(needle, from);
    assert.ok(at >= 0, `expected ${JSON.stringify(needle)} after position ${from}`);
    from = at + needle.length;
  }
}

void test('the Release Registry page has the sections of the seed page, in order', async () => {
  const repo = await loadRepo(EXAMPLES_PLATFORM);
  const files = await generateHandbook({ repo, date: DATE, revision: 'abc123' });
  const page = text(files.find((f) => f.path === 'releaseregistry.md')?.content);
  assertInOrder(page, [
    '# Release Registry infrastructure operations',
    'DO NOT EDIT',
    "'msp operations generate-handbook-pages'",
    'Last updated: 2026-01-01T00:00:00Z',
    'at revision abc123',
    'operated on the [Managed Services Platform (MSP)](https://docs.example.com/msp)',
    '## Service overview',
    '| Service ID ',
    '[specification](https://git.example.com/acme/platform/blob/main/services/releaseregistry/service.yaml)',
    '| Owners ',
    '| Service kind ',
    '| Environments ',
    '[dev](#dev), [prod](#prod)',
    '| Image ',
    '| Source code ',
    '## Rollouts',
    '`releaseregistry-rollout`',
    '[dev](#dev) -> [prod](#prod)',
    'continuously delivered to the first stage ([dev](#dev))',
    'msp rollout promote releaseregistry',
    '## Environments',
    '### dev',
    '| Category ',
    '**test**',
    '| Deployment type ',
    '| Resources ',
    '| Notifications ',
    '[#alerts-releaseregistry-dev](https://chat.example.com/channels/alerts-releaseregistry-dev)',
    '| Domain ',
    '| Alert policies ',
    'not restricted',
    'msp logs releaseregistry dev',
    '#### dev PostgreSQL instance',
    '`releaseregistry`',
    'msp pg connect releaseregistry dev',
    'msp pg connect --write-access releaseregistry dev',
    '#### dev Architecture Diagram',
    '![Architecture Diagram](./releaseregistry-dev.svg)',
    '#### dev Infrastructure',
    'msp generate releaseregistry dev',
    '### prod',
    '**internal**',
    'restricted',
    '(https://access.example.com/request)',
    'msp access request releaseregistry prod',
    'msp access request --write-access releaseregistry prod',
    'msp logs releaseregistry prod',
    '#### prod PostgreSQL instance',
    'msp pg connect releaseregistry prod',
    'msp pg connect --write-access releaseregistry prod',
    '![Architecture Diagram](./releaseregistry-prod.svg)',
    'msp generate releaseregistry prod',
    '## Alert Policies',
  ]);
  // The README follows the overview, without its title line.
  const readme = repo.services.find((s) => s.spec.service.id === 'releaseregistry')?.readme ?? '';
  const secondLine = readme.split('\n').find((l, i) => i > 0 && l.trim().length > 0) ?? '';
  assertInOrder(page, ['## Service overview', secondLine.trim(), '## Rollouts']);
  assert.equal(
    page.replace(/^```[\s\S]*?^```/gm, '').match(/^# /gm)?.length,
    1,
    'only the page title is a level-1 heading',
  );

  // Every policy that applies in any environment, once, with its severity.
  const alerts = page.slice(page.indexOf('## Alert Policies'));
  const service = repo.services.find((s) => s.spec.service.id === 'releaseregistry');
  assert.ok(service);
  const titles = new Map<string, string>();
  for (const env of service.spec.environments)
    for (const p of alertPoliciesFor(service.spec, env)) titles.set(p.id, `${p.title}|${p.severity}`);
  assert.ok(titles.size >= 15);
  for (const entry of titles.values()) {
    const [title, severity] = entry.split('|') as [string, string];
    const heading = `#### ${title}\n`;
    assert.equal(alerts.split(heading).length - 1, 1, `${title} once`);
    const section = alerts.slice(alerts.indexOf(heading) + heading.length).split('\n#### ')[0] ?? '';
    assert.ok(section.includes('```md\n'), `${title} has a description block`);
    assert.ok(section.includes(`Severity: ${severity}`), `${title} has severity ${severity}`);
  }
  const headings = [...alerts.matchAll(/^#### (.*)$/gm)].map((m) => m[1] ?? '');
  assert.deepEqual(
    headings,
    [...headings].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)),
  );
  assert.ok(alerts.includes('Severity: CRITICAL'));
  assert.ok(alerts.includes('Pages the owners in: [prod](#prod)'));
});

void test('generating twice gives identical bytes; the index lists every service and instance', async () => {
  const repo = await loadRepo(EXAMPLES_PLATFORM);
  const first = await generateHandbook({ repo, date: DATE, revision: 'example' });
  const second = await generateHandbook({
    repo: await loadRepo(EXAMPLES_PLATFORM),
    date: DATE,
    revision: 'example',
  });
  assert.deepEqual(
    first.map((f) => f.path),
    second.map((f) => f.path),
  );
  for (const [i, file] of first.entries())
    assert.equal(text(file.content), text(second[i]?.content), file.path);
  const paths = first.map((f) => f.path);
  const index = text(first.find((f) => f.path === 'index.md')?.content);
  for (const { spec } of repo.services) {
    assert.ok(paths.includes(`${spec.service.id}.md`));
    assert.ok(index.includes(`](./${spec.service.id}.md)`));
    for (const env of spec.environments) assert.ok(paths.includes(`${spec.service.id}-${env.id}.svg`));
  }
  for (const instance of repo.instances) assert.ok(index.includes(`\`${instance.id}\``), instance.id);
  const later = await generateHandbook({
    repo,
    date: new Date('2026-02-01T10:00:00.250Z'),
    revision: 'example',
  });
  assert.ok(text(later[0]?.content).includes('Last updated: 2026-02-01T10:00:00.250Z'));
});

const MSP_YAML = `organization: { name: Fixture Co }
baseDomain: fixture.localhost
environments:
  - id: staging
    category: test
  - id: live
    category: external
`;

const JOB_YAML = `service:
  id: nightly
  owners: [data-team]
  description: Nightly export.
  kind: job
build: {}
environments:
  - id: live
    category: external
    deploy: { type: manual }
    schedule: { cron: '0 2 * * *' }
    env: { LOG_LEVEL: debug }
    secretEnv: { EXPORT_TOKEN: super-secret-name }
    resources:
      volumes: [{ name: exports, sizeGB: 50 }]
`;

void test('a repo without links or rollouts: relative spec links, no rollout section, secrets by variable name only', async () => {
  await withRepo(
    {
      'msp.yaml': MSP_YAML,
      'services/nightly/service.yaml': JOB_YAML,
      'services/nightly/README.md': '# Nightly\n\nExports the day.\n',
    },
    async (repo) => {
      const files = await generateHandbook({ repo, date: DATE });
      const page = text(files.find((f) => f.path === 'nightly.md')?.content);
      assert.ok(page.includes('[specification](../services/nightly/service.yaml)'));
      assert.ok(page.includes('at revision unknown'));
      assert.ok(!page.includes('## Rollouts'));
      assert.ok(!page.includes('PostgreSQL instance'));
      assert.ok(page.includes('#### live Volumes'));
      assert.ok(page.includes('`exports`'));
      assert.ok(page.includes('Scheduled job'));
      assert.ok(page.includes('`EXPORT_TOKEN`'));
      assert.ok(!page.includes('super-secret-name'), 'the secret a variable refers to is not printed');
      assert.ok(!page.includes('debug'), 'environment values are not printed');
      assert.ok(page.includes('Exports the day.'));
      assert.ok(!page.includes('# Nightly\n'));
      // live is production (external): restricted, no accessRequests link configured.
      assert.ok(page.includes('msp access request --write-access nightly live'));
      assert.ok(!page.includes('access request form'));
      // A job has no uptime check or pending requests.
      assert.ok(!page.includes('External Uptime Check'));
      assert.ok(!page.includes('Pending Requests'));
      assert.deepEqual(
        files.map((f) => f.path),
        ['index.md', 'nightly.md', 'nightly-live.svg'],
      );
    },
  );
});

void test('pages written to another folder link the spec relative to it', async () => {
  await withRepo({ 'msp.yaml': MSP_YAML, 'services/nightly/service.yaml': JOB_YAML }, async (repo) => {
    const files = await generateHandbook({ repo, date: DATE, docsDir: 'site/handbook' });
    assert.ok(text(files[1]?.content).includes('[specification](../../services/nightly/service.yaml)'));
    const outside = await generateHandbook({ repo, date: DATE, docsDir: '../published' });
    const expected = `[specification](../${basename(repo.root)}/services/nightly/service.yaml)`;
    assert.ok(text(outside[1]?.content).includes(expected), expected);
  });
});

void test('timestamps are RFC 3339 in UTC and invalid dates are refused', () => {
  assert.equal(formatTimestamp(new Date('2026-01-01T01:00:00+01:00')), '2026-01-01T00:00:00Z');
  assert.throws(() => formatTimestamp(new Date('nope')), /not a valid time/);
});
