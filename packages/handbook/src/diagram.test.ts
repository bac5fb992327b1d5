import { test } from 'node:test';
import assert from 'node:assert/strict';
import { architectureDot, renderArchitectureDiagram, type ArchitectureModel } from './diagram.js';

const model: ArchitectureModel = {
  service: { id: 'releaseregistry', name: 'Release Registry', kind: 'service' },
  environment: { id: 'prod', category: 'internal', runtime: 'local' },
  domain: 'releaseregistry.acme.localhost',
  workload: { minCount: 2, maxCount: 5, cpu: 1, memory: '1Gi' },
  postgreSQL: {
    databases: ['releaseregistry', 'audit'],
    cpu: 2,
    memoryGB: 8,
    maxConnections: 200,
    highAvailability: true,
  },
  volumes: [{ name: 'data', sizeGB: 20 }],
  alerting: { policies: 15, channels: ['#alerts-releaseregistry-prod'], pagesOwners: true },
};

void test('the graph shows instances, proxy, PostgreSQL with its databases, volumes, backups and alerting', () => {
  const dot = architectureDot(model);
  for (const text of [
    'https://releaseregistry.acme.localhost',
    'instance 1',
    'instance 2',
    'up to 3 more',
    'cluster_postgresql',
    'primary + standby',
    'label="releaseregistry"',
    'label="audit"',
    'volume data\\n20 GB',
    'Backup repository',
    'Alerting: 15 policies',
    'pages owners (CRITICAL)',
  ])
    assert.ok(dot.includes(text), `DOT should contain ${text}`);
});

void test('without a domain, database or volumes, those parts are left out', () => {
  const dot = architectureDot({
    ...model,
    domain: undefined,
    postgreSQL: undefined,
    volumes: [],
  });
  for (const text of ['proxy', 'cluster_postgresql', 'backups', 'volume_'])
    assert.ok(!dot.includes(text), text);
});

void test('Graphviz renders an SVG, byte-identical for the same model', async () => {
  const first = await renderArchitectureDiagram(model);
  const second = await renderArchitectureDiagram(structuredClone(model));
  assert.match(first, /^<\?xml[\s\S]*<svg[\s\S]*<\/svg>\s*$/);
  assert.ok(first.includes('releaseregistry workload'));
  assert.equal(first, second);
  const other = await renderArchitectureDiagram({ ...model, volumes: [] });
  assert.notEqual(first, other);
});

void test('labels with quotes and backslashes are escaped, not injected', async () => {
  const svg = await renderArchitectureDiagram({
    ...model,
    service: { ...model.service, name: 'Evil "name" \\ ]; x [' },
  });
  assert.ok(svg.includes('Evil &quot;name&quot;'));
});
