import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serviceSpecSchema } from '@msp/spec';
import type { ServiceSpec } from '@msp/spec';
import { STANDARD_ALERT_POLICIES, alertPoliciesFor, alertChannels, slugify } from '../index.js';

/** A validated spec from the fields a test cares about; every default filled by the real schema. */
function spec(environment: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): ServiceSpec {
  return serviceSpecSchema.parse({
    service: {
      id: 'releaseregistry',
      name: 'Release Registry',
      owners: ['dev-experience'],
      description: 'Releases.',
    },
    environments: [{ id: 'prod', category: 'internal', deploy: { type: 'manual' }, ...environment }],
    ...extra,
  });
}

function ids(s: ServiceSpec): string[] {
  const env = s.environments[0];
  assert.ok(env);
  return alertPoliciesFor(s, env).map((p) => p.id);
}

function policy(s: ServiceSpec, id: string) {
  const env = s.environments[0];
  assert.ok(env);
  const found = alertPoliciesFor(s, env).find((p) => p.id === id);
  assert.ok(found, `policy ${id} expected`);
  return found;
}

const full = {
  domain: 'releaseregistry.acme.localhost',
  resources: { postgreSQL: { databases: ['releaseregistry'] } },
  healthProbes: { timeout: 5, startupInterval: 10 },
};

void test('the catalog has the 14 standard policies with unique kebab-case ids and names', () => {
  assert.equal(STANDARD_ALERT_POLICIES.length, 14);
  const idSet = new Set(STANDARD_ALERT_POLICIES.map((p) => p.id));
  assert.equal(idSet.size, 14);
  for (const p of STANDARD_ALERT_POLICIES) {
    assert.match(p.id, /^[a-z0-9]+(-[a-z0-9]+)*$/);
    assert.ok(p.description.length > 0);
    assert.ok(p.localName.length > 0);
  }
  assert.equal(new Set(STANDARD_ALERT_POLICIES.map((p) => p.name)).size, 14);
  assert.equal(new Set(STANDARD_ALERT_POLICIES.map((p) => p.localName)).size, 14);
  // Only the uptime check is CRITICAL.
  assert.deepEqual(
    STANDARD_ALERT_POLICIES.filter((p) => p.severity === 'CRITICAL').map((p) => p.id),
    ['external-uptime-check'],
  );
  assert.equal(
    STANDARD_ALERT_POLICIES.find((p) => p.id === 'cloudsql-connections')?.localName,
    'Database - Connections',
  );
});

void test('thresholds, windows and durations follow the reference table', () => {
  const s = spec(full);
  const expect: Record<string, [string, number, number, number]> = {
    // id: comparison, threshold, window s, duration s
    'container-cpu': ['above', 0.9, 60, 600],
    'container-memory': ['above', 0.8, 300, 0],
    'container-startup-latency': ['above', 30, 60, 0],
    'container-instance-count': ['above', 4, 60, 60],
    'pending-requests': ['above', 5, 60, 0],
    'instance-precondition-failed': ['above', 0, 60, 0],
    'external-uptime-check': ['below', 0.4, 180, 0],
    'cloudsql-memory': ['above', 0.8, 60, 0],
    'cloudsql-cpu': ['above', 0.9, 60, 180],
    'cloudsql-server-availability': ['below', 1, 60, 0],
    'cloudsql-disk': ['above', 0.95, 300, 0],
    'cloudsql-connections': ['above', 0.9, 120, 0],
    'cloudsql-sustained-lock-time': ['above', 0.2, 60, 180],
    'cloudsql-lock-time-spike': ['above', 1, 120, 0],
  };
  assert.deepEqual(ids(s), Object.keys(expect));
  for (const [id, [comparison, threshold, window, duration]] of Object.entries(expect)) {
    const p = policy(s, id);
    assert.deepEqual(
      [p.comparison, p.threshold, p.windowSeconds, p.durationSeconds],
      [comparison, threshold, window, duration],
      id,
    );
  }
  assert.equal(policy(s, 'container-cpu').aggregation, 'p99');
  assert.equal(policy(s, 'cloudsql-connections').aggregation, 'max');
});

void test('startup latency is 3 × startupInterval, or 240 s without a healthProbes block', () => {
  assert.equal(policy(spec({ healthProbes: { timeout: 4 } }), 'container-startup-latency').threshold, 12);
  assert.equal(
    policy(spec({ healthProbes: { timeout: 4, startupInterval: 20 } }), 'container-startup-latency')
      .threshold,
    60,
  );
  assert.equal(policy(spec(), 'container-startup-latency').threshold, 240);
});

void test('instance count exists only when maxCount ≥ 5 and fires above maxCount − 1', () => {
  assert.ok(!ids(spec({ instances: { scaling: { maxCount: 4 } } })).includes('container-instance-count'));
  assert.equal(
    policy(spec({ instances: { scaling: { maxCount: 5 } } }), 'container-instance-count').threshold,
    4,
  );
  assert.equal(
    policy(spec({ instances: { scaling: { maxCount: 12 } } }), 'container-instance-count').threshold,
    11,
  );
});

void test('the uptime check needs a domain and times out with the probe timeout', () => {
  assert.ok(!ids(spec()).includes('external-uptime-check'));
  const withDomain = policy(
    spec({ domain: 'rr.acme.localhost', healthProbes: { timeout: 7 } }),
    'external-uptime-check',
  );
  assert.deepEqual(withDomain.uptimeCheck, {
    url: 'https://rr.acme.localhost/-/healthz',
    periodSeconds: 60,
    timeoutSeconds: 7,
  });
  assert.match(withDomain.description, /https:\/\/rr\.acme\.localhost\/-\/healthz/);
  assert.equal(
    policy(spec({ domain: 'rr.acme.localhost' }), 'external-uptime-check').uptimeCheck?.timeoutSeconds,
    3,
  );
});

void test('database policies only with PostgreSQL', () => {
  const without = ids(spec());
  assert.ok(without.every((id) => !id.startsWith('cloudsql-')));
  assert.equal(ids(spec(full)).filter((id) => id.startsWith('cloudsql-')).length, 7);
});

void test('jobs get no request, scaling or uptime policies', () => {
  const job = serviceSpecSchema.parse({
    service: { id: 'nightly', owners: ['a'], description: 'Nightly job.', kind: 'job' },
    environments: [
      { id: 'prod', category: 'internal', deploy: { type: 'manual' }, domain: 'nightly.acme.localhost' },
    ],
  });
  const list = ids(job);
  for (const id of ['pending-requests', 'container-instance-count', 'external-uptime-check'])
    assert.ok(!list.includes(id), id);
  assert.ok(list.includes('container-cpu'));
});

void test('CRITICAL pages only in production; channels expand the placeholders', () => {
  const prod = policy(spec(full), 'external-uptime-check');
  assert.deepEqual(prod.notify, { channels: ['#alerts-releaseregistry-prod'], page: true });
  assert.equal(policy(spec(full), 'container-cpu').notify.page, false);
  const test = policy(spec({ ...full, id: 'dev', category: 'test' }), 'external-uptime-check');
  assert.equal(test.notify.page, false);
  assert.equal(
    policy(spec({ ...full, alerting: { pager: false } }), 'external-uptime-check').notify.page,
    false,
  );
  assert.deepEqual(
    alertChannels('svc', 'dev', { channels: ['#a-{service}', '#b-{env}'], sharedChannel: '#shared' }),
    ['#a-svc', '#b-dev', '#shared'],
  );
});

void test('names follow the runtime: Google Cloud names on gcp, what is measured elsewhere', () => {
  const s = spec(full);
  const env = s.environments[0];
  assert.ok(env);
  const local = alertPoliciesFor(s, env).find((p) => p.id === 'cloudsql-connections');
  const gcp = alertPoliciesFor(s, env, { runtime: 'gcp' }).find((p) => p.id === 'cloudsql-connections');
  assert.equal(local?.title, 'Database - Connections');
  assert.equal(gcp?.title, 'Cloud SQL - Connections');
});

void test("the spec's own response-code ratios and custom alerts become policies", () => {
  const s = spec(full, {
    monitoring: {
      alerts: {
        responseCodeRatios: [
          {
            id: 'server-errors',
            name: 'Server errors',
            codeClass: '5xx',
            excludeCodes: [503],
            ratio: 0.1,
            durationMinutes: 5,
          },
        ],
        customAlerts: [
          {
            name: 'Queue Backlog!',
            description: 'The queue is **long**.',
            severityLevel: 'CRITICAL',
            condition: { query: 'queue_depth > 100' },
          },
          { name: 'queue backlog', description: 'Same name again.', condition: { query: 'x > 1' } },
        ],
      },
    },
  });
  const env = s.environments[0];
  assert.ok(env);
  const all = alertPoliciesFor(s, env);
  assert.deepEqual(
    all.slice(14).map((p) => p.id),
    ['response-code-ratio-server-errors', 'custom-queue-backlog', 'custom-queue-backlog-2'],
  );
  const ratio = all[14];
  assert.equal(ratio?.threshold, 0.1);
  assert.equal(ratio?.durationSeconds, 300);
  assert.deepEqual(ratio?.responseCodes, { codeClass: '5xx', excludeCodes: [503] });
  assert.match(ratio?.description ?? '', /5xx \(excluding 503\)/);
  const custom = all[15];
  assert.equal(custom?.severity, 'CRITICAL');
  assert.equal(custom?.notify.page, true);
  assert.deepEqual(custom?.query, { type: 'promql', query: 'queue_depth > 100' });
  assert.equal(new Set(all.map((p) => p.id)).size, all.length);
  assert.equal(slugify('  Über Alert '), 'uber-alert');
});
