import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { formatDiagnostic, validateServiceText } from './index.js';

type Spec = Record<string, unknown> & {
  service: Record<string, unknown>;
  environments: Record<string, unknown>[];
};

function base(): Spec {
  return {
    service: { id: 'svc', owners: ['team'], description: 'Does useful things.' },
    environments: [
      { id: 'dev', category: 'test', deploy: { type: 'manual' } },
      { id: 'prod', category: 'internal', deploy: { type: 'manual' } },
    ],
  };
}
const env = (s: Spec, i: number) => s.environments[i] as Record<string, unknown>;

function check(mutate: (s: Spec) => void) {
  const spec = base();
  mutate(spec);
  return validateServiceText('services/svc/service.yaml', stringify(spec));
}

/** Each rule: a good variant that validates, and a bad one whose single diagnostic names path and problem. */
const rules: {
  rule: string;
  good: (s: Spec) => void;
  bad: (s: Spec) => void;
  path: string;
  message: RegExp;
}[] = [
  {
    rule: 'service id matches ^[a-z0-9-]+$',
    good: (s) => (s.service.id = 'my-svc-2'),
    bad: (s) => (s.service.id = 'My_Svc'),
    path: 'service.id',
    message: /lowercase letters, digits and dashes/,
  },
  {
    rule: 'service id has at most 20 characters',
    good: (s) => (s.service.id = 'a'.repeat(20)),
    bad: (s) => (s.service.id = 'a'.repeat(21)),
    path: 'service.id',
    message: /at most 20/,
  },
  {
    rule: 'owners has at least one team',
    good: (s) => (s.service.owners = ['a', 'b']),
    bad: (s) => (s.service.owners = []),
    path: 'service.owners',
    message: /at least one owning team/,
  },
  {
    rule: 'description is required',
    good: (s) => (s.service.description = 'x'),
    bad: (s) => delete s.service.description,
    path: 'service.description',
    message: /required field `description` is missing/,
  },
  {
    rule: 'description is not TODO',
    good: (s) => (s.service.description = 'TODO list manager'),
    bad: (s) => (s.service.description = 'TODO'),
    path: 'service.description',
    message: /replace `TODO`/,
  },
  {
    rule: 'kind is service or job',
    good: (s) => (s.service.kind = 'service'),
    bad: (s) => (s.service.kind = 'daemon'),
    path: 'service.kind',
    message: /must be one of `service`, `job`/,
  },
  {
    rule: 'protocol is http or h2c',
    good: (s) => (s.service.protocol = 'h2c'),
    bad: (s) => (s.service.protocol = 'grpc'),
    path: 'service.protocol',
    message: /`http`, `h2c`/,
  },
  {
    rule: 'at least one environment',
    good: () => {},
    bad: (s) => (s.environments = []),
    path: 'environments',
    message: /at least one environment/,
  },
  {
    rule: 'environment ids are unique',
    good: () => {},
    bad: (s) => (env(s, 1).id = 'dev'),
    path: 'environments[1].id',
    message: /duplicate environment id `dev`/,
  },
  {
    rule: 'projectID starts with <service id>-',
    good: (s) => (env(s, 0).projectID = 'svc-dev-1234'),
    bad: (s) => (env(s, 0).projectID = 'other-dev'),
    path: 'environments[0].projectID',
    message: /must start with `svc-`/,
  },
  {
    rule: 'projectID is shorter than 30 characters',
    good: (s) => (env(s, 0).projectID = 'svc-' + 'x'.repeat(25)),
    bad: (s) => (env(s, 0).projectID = 'svc-' + 'x'.repeat(26)),
    path: 'environments[0].projectID',
    message: /shorter than 30/,
  },
  {
    rule: 'the default projectID is shorter than 30 characters',
    good: (s) => (env(s, 0).id = 'x'.repeat(25)),
    bad: (s) => (env(s, 0).id = 'x'.repeat(26)),
    path: 'environments[0].projectID',
    message: /default projectID/,
  },
  {
    rule: 'category is required',
    good: () => {},
    bad: (s) => delete env(s, 0).category,
    path: 'environments[0].category',
    message: /`category` is missing \(one of test, internal, external\)/,
  },
  {
    rule: 'category is test, internal or external',
    good: (s) => (env(s, 1).category = 'external'),
    bad: (s) => (env(s, 1).category = 'production'),
    path: 'environments[1].category',
    message: /must be one of/,
  },
  {
    rule: 'deploy type is manual, subscription or rollout',
    good: (s) => (env(s, 0).deploy = { type: 'subscription', subscription: { tag: 'insiders' } }),
    bad: (s) => (env(s, 0).deploy = { type: 'continuous' }),
    path: 'environments[0].deploy.type',
    message: /`manual`, `subscription`, `rollout`/,
  },
  {
    rule: 'deploy type subscription needs subscription.tag',
    good: (s) => (env(s, 0).deploy = { type: 'subscription', subscription: { tag: 'x' } }),
    bad: (s) => (env(s, 0).deploy = { type: 'subscription' }),
    path: 'environments[0].deploy.subscription',
    message: /subscription\.tag/,
  },
  {
    rule: 'livenessInterval is at most 3600',
    good: (s) => (env(s, 0).healthProbes = { livenessInterval: 3600 }),
    bad: (s) => (env(s, 0).healthProbes = { livenessInterval: 3601 }),
    path: 'environments[0].healthProbes.livenessInterval',
    message: /at most 3600/,
  },
  {
    rule: 'instances cpu is 1–8',
    good: (s) => (env(s, 0).instances = { resources: { cpu: 8 } }),
    bad: (s) => (env(s, 0).instances = { resources: { cpu: 9 } }),
    path: 'environments[0].instances.resources.cpu',
    message: /at most 8/,
  },
  {
    rule: 'instances memory is at least 512Mi',
    good: (s) => (env(s, 0).instances = { resources: { memory: '512Mi' } }),
    bad: (s) => (env(s, 0).instances = { resources: { memory: '256Mi' } }),
    path: 'environments[0].instances.resources.memory',
    message: /between 512Mi and 32Gi/,
  },
  {
    rule: 'instances memory is at most 32Gi',
    good: (s) => (env(s, 0).instances = { resources: { memory: '32Gi' } }),
    bad: (s) => (env(s, 0).instances = { resources: { memory: '33Gi' } }),
    path: 'environments[0].instances.resources.memory',
    message: /between 512Mi and 32Gi/,
  },
  {
    rule: 'instances memory is a quantity',
    good: (s) => (env(s, 0).instances = { resources: { memory: '2Gi' } }),
    bad: (s) => (env(s, 0).instances = { resources: { memory: '2GB' } }),
    path: 'environments[0].instances.resources.memory',
    message: /quantity such as `512Mi`/,
  },
  {
    rule: 'scaling minCount does not exceed maxCount',
    good: (s) => (env(s, 0).instances = { scaling: { minCount: 5 } }),
    bad: (s) => (env(s, 0).instances = { scaling: { minCount: 6 } }),
    path: 'environments[0].instances.scaling.minCount',
    message: /must not exceed maxCount \(5\)/,
  },
  {
    rule: 'postgreSQL databases are required',
    good: (s) => (env(s, 0).resources = { postgreSQL: { databases: ['svc'] } }),
    bad: (s) => (env(s, 0).resources = { postgreSQL: { cpu: 1 } }),
    path: 'environments[0].resources.postgreSQL.databases',
    message: /`databases` is missing/,
  },
  {
    rule: 'postgreSQL memoryGB is at least cpu',
    good: (s) => (env(s, 0).resources = { postgreSQL: { databases: ['svc'], cpu: 2, memoryGB: 2 } }),
    bad: (s) => (env(s, 0).resources = { postgreSQL: { databases: ['svc'], cpu: 8 } }),
    path: 'environments[0].resources.postgreSQL.memoryGB',
    message: /memoryGB \(4\) must be at least cpu \(8\)/,
  },
  {
    rule: 'postgreSQL memoryGB is at most 6 × cpu',
    good: (s) => (env(s, 0).resources = { postgreSQL: { databases: ['svc'], cpu: 2, memoryGB: 12 } }),
    bad: (s) => (env(s, 0).resources = { postgreSQL: { databases: ['svc'], cpu: 2, memoryGB: 13 } }),
    path: 'environments[0].resources.postgreSQL.memoryGB',
    message: /at most 6 × cpu \(12\)/,
  },
  {
    rule: 'postgreSQL maxConnections is at least 14',
    good: (s) => (env(s, 0).resources = { postgreSQL: { databases: ['svc'], maxConnections: 14 } }),
    bad: (s) => (env(s, 0).resources = { postgreSQL: { databases: ['svc'], maxConnections: 13 } }),
    path: 'environments[0].resources.postgreSQL.maxConnections',
    message: /at least 14/,
  },
  {
    rule: 'postgreSQL maxConnections is at most 262143',
    good: (s) => (env(s, 0).resources = { postgreSQL: { databases: ['svc'], maxConnections: 262143 } }),
    bad: (s) => (env(s, 0).resources = { postgreSQL: { databases: ['svc'], maxConnections: 262144 } }),
    path: 'environments[0].resources.postgreSQL.maxConnections',
    message: /at most 262143/,
  },
  {
    rule: 'volume names are unique',
    good: (s) => (env(s, 0).resources = { volumes: [{ name: 'a' }, { name: 'b' }] }),
    bad: (s) => (env(s, 0).resources = { volumes: [{ name: 'a' }, { name: 'a' }] }),
    path: 'environments[0].resources.volumes[1].name',
    message: /duplicate volume name `a`/,
  },
  {
    rule: 'rollout has at least one stage',
    good: (s) => {
      env(s, 0).deploy = { type: 'rollout' };
      s.rollout = { stages: [{ environment: 'dev' }] };
    },
    bad: (s) => (s.rollout = { stages: [] }),
    path: 'rollout.stages',
    message: /at least one stage/,
  },
  {
    rule: 'rollout stages do not repeat',
    good: (s) => {
      env(s, 0).deploy = { type: 'rollout' };
      env(s, 1).deploy = { type: 'rollout' };
      s.rollout = { stages: [{ environment: 'dev' }, { environment: 'prod' }] };
    },
    bad: (s) => {
      env(s, 0).deploy = { type: 'rollout' };
      s.rollout = { stages: [{ environment: 'dev' }, { environment: 'dev' }] };
    },
    path: 'rollout.stages[1].environment',
    message: /already an earlier stage/,
  },
  {
    rule: 'a rollout stage environment has deploy type rollout',
    good: () => {},
    bad: (s) => {
      env(s, 0).deploy = { type: 'rollout' };
      s.rollout = { stages: [{ environment: 'dev' }, { environment: 'prod' }] };
    },
    path: 'rollout.stages[1].environment',
    message: /is a rollout stage but its deploy type is `manual`/,
  },
  {
    rule: 'an environment with deploy type rollout is a stage',
    good: () => {},
    bad: (s) => {
      env(s, 0).deploy = { type: 'rollout' };
      env(s, 1).deploy = { type: 'rollout' };
      s.rollout = { stages: [{ environment: 'dev' }] };
    },
    path: 'environments[1].deploy.type',
    message: /not a stage of rollout\.stages/,
  },
  {
    rule: 'deploy type rollout needs a rollout block',
    good: () => {},
    bad: (s) => (env(s, 0).deploy = { type: 'rollout' }),
    path: 'environments[0].deploy.type',
    message: /no `rollout` block/,
  },
  {
    rule: 'a rollout stage names a declared environment',
    good: () => {},
    bad: (s) => {
      env(s, 0).deploy = { type: 'rollout' };
      s.rollout = { stages: [{ environment: 'dev' }, { environment: 'staging' }] };
    },
    path: 'rollout.stages[1].environment',
    message: /does not declare/,
  },
  {
    rule: 'responseCodeRatios durationMinutes is at most 1440',
    good: (s) =>
      (s.monitoring = {
        alerts: {
          responseCodeRatios: [{ id: 'a', name: 'A', codeClass: '5xx', ratio: 1, durationMinutes: 1440 }],
        },
      }),
    bad: (s) =>
      (s.monitoring = {
        alerts: {
          responseCodeRatios: [{ id: 'a', name: 'A', codeClass: '5xx', ratio: 1, durationMinutes: 1441 }],
        },
      }),
    path: 'monitoring.alerts.responseCodeRatios[0].durationMinutes',
    message: /at most 1440/,
  },
  {
    rule: 'responseCodeRatios ratio is 0–1',
    good: (s) =>
      (s.monitoring = { alerts: { responseCodeRatios: [{ id: 'a', name: 'A', code: 404, ratio: 0 }] } }),
    bad: (s) =>
      (s.monitoring = { alerts: { responseCodeRatios: [{ id: 'a', name: 'A', code: 404, ratio: 1.5 }] } }),
    path: 'monitoring.alerts.responseCodeRatios[0].ratio',
    message: /at most 1/,
  },
  {
    rule: 'responseCodeRatios has code or codeClass, not both',
    good: (s) =>
      (s.monitoring = { alerts: { responseCodeRatios: [{ id: 'a', name: 'A', code: 404, ratio: 0.5 }] } }),
    bad: (s) =>
      (s.monitoring = {
        alerts: { responseCodeRatios: [{ id: 'a', name: 'A', code: 404, codeClass: '4xx', ratio: 0.5 }] },
      }),
    path: 'monitoring.alerts.responseCodeRatios[0].codeClass',
    message: /either `code` or `codeClass`, not both/,
  },
  {
    rule: 'responseCodeRatios has code or codeClass, not neither',
    good: (s) =>
      (s.monitoring = {
        alerts: { responseCodeRatios: [{ id: 'a', name: 'A', codeClass: '4xx', ratio: 0.5 }] },
      }),
    bad: (s) => (s.monitoring = { alerts: { responseCodeRatios: [{ id: 'a', name: 'A', ratio: 0.5 }] } }),
    path: 'monitoring.alerts.responseCodeRatios[0]',
    message: /set one of `code`/,
  },
  {
    rule: 'customAlerts severityLevel is WARNING or CRITICAL',
    good: (s) =>
      (s.monitoring = {
        alerts: {
          customAlerts: [
            { name: 'A', description: 'd', severityLevel: 'CRITICAL', condition: { query: 'up == 0' } },
          ],
        },
      }),
    bad: (s) =>
      (s.monitoring = {
        alerts: {
          customAlerts: [
            { name: 'A', description: 'd', severityLevel: 'ERROR', condition: { query: 'up == 0' } },
          ],
        },
      }),
    path: 'monitoring.alerts.customAlerts[0].severityLevel',
    message: /`WARNING`, `CRITICAL`/,
  },
  {
    rule: 'a job has schedule.cron in every environment',
    good: (s) => {
      s.service.kind = 'job';
      env(s, 0).schedule = { cron: '0 * * * *' };
      env(s, 1).schedule = { cron: '0 * * * *' };
    },
    bad: (s) => {
      s.service.kind = 'job';
      env(s, 0).schedule = { cron: '0 * * * *' };
    },
    path: 'environments[1].schedule',
    message: /a job needs `schedule\.cron`/,
  },
  {
    rule: 'a job has no rollout',
    good: (s) => {
      s.service.kind = 'job';
      for (const e of s.environments) e.schedule = { cron: '*/5 * * * *' };
    },
    bad: (s) => {
      s.service.kind = 'job';
      for (const e of s.environments) e.schedule = { cron: '*/5 * * * *' };
      s.rollout = { stages: [{ environment: 'dev' }] };
    },
    path: 'rollout',
    message: /a job has no rollout/,
  },
  {
    rule: 'a job has no scaling',
    good: (s) => {
      s.service.kind = 'job';
      for (const e of s.environments) e.schedule = { cron: '*/5 * * * *', deadlineSeconds: 60 };
    },
    bad: (s) => {
      s.service.kind = 'job';
      for (const e of s.environments) e.schedule = { cron: '*/5 * * * *' };
      env(s, 0).instances = { scaling: { maxCount: 2 } };
    },
    path: 'environments[0].instances.scaling',
    message: /a job does not scale/,
  },
  {
    rule: 'only a job has a schedule',
    good: () => {},
    bad: (s) => (env(s, 0).schedule = { cron: '0 * * * *' }),
    path: 'environments[0].schedule',
    message: /only a job/,
  },
  {
    rule: 'env values are strings',
    good: (s) => (env(s, 0).env = { PORT_HINT: '8080' }),
    bad: (s) => (env(s, 0).env = { PORT_HINT: 8080 }),
    path: 'environments[0].env.PORT_HINT',
    message: /expected a string, got number `8080`; quote it/,
  },
  {
    rule: 'env names are variable names',
    good: (s) => (env(s, 0).env = { LOG_LEVEL: 'debug' }),
    bad: (s) => (env(s, 0).env = { 'log-level': 'debug' }),
    path: 'environments[0].env.log-level',
    message: /key `log-level` must be a variable name/,
  },
  {
    rule: 'domain is a host name',
    good: (s) => (env(s, 0).domain = 'svc.dev.example.com'),
    bad: (s) => (env(s, 0).domain = 'https://svc.example.com'),
    path: 'environments[0].domain',
    message: /host name/,
  },
];

for (const r of rules) {
  void test(`rule: ${r.rule}`, () => {
    const good = check(r.good);
    assert.deepEqual(good.diagnostics.map(formatDiagnostic), [], 'the good variant validates');
    assert.ok(good.spec);
    const bad = check(r.bad);
    assert.equal(bad.spec, undefined);
    assert.equal(bad.diagnostics.length, 1, bad.diagnostics.map(formatDiagnostic).join('\n'));
    const [d] = bad.diagnostics;
    assert.equal(d?.path, r.path);
    assert.match(d?.message ?? '', r.message);
  });
}

void test('defaults are filled in', () => {
  const { spec } = check((s) => {
    env(s, 0).healthProbes = { timeout: 5 };
    env(s, 0).resources = { postgreSQL: { databases: ['svc'] } };
    s.service.kind = undefined;
  });
  assert.ok(spec);
  assert.equal(spec.service.name, 'svc');
  assert.equal(spec.service.kind, 'service');
  assert.equal(spec.service.protocol, 'http');
  const [dev, prod] = spec.environments;
  assert.equal(dev?.projectID, 'svc-dev');
  assert.deepEqual(dev?.healthProbes, {
    healthzProbes: true,
    timeout: 5,
    startupInterval: 5,
    livenessInterval: 50,
  });
  assert.equal(prod?.healthProbes, undefined);
  assert.deepEqual(dev?.instances, {
    resources: { cpu: 1, memory: '512Mi' },
    scaling: { minCount: 1, maxCount: 5, maxRequestConcurrency: 1000 },
  });
  assert.deepEqual(dev?.resources.postgreSQL, {
    databases: ['svc'],
    cpu: 1,
    memoryGB: 4,
    maxConnections: 100,
    highAvailability: false,
  });
  assert.deepEqual(dev?.resources.volumes, []);
  assert.equal(dev?.alerting.pager, false);
  assert.equal(prod?.alerting.pager, true, 'production environments page by default');
  assert.equal(dev?.allowDestroys, false);
  assert.deepEqual(spec.monitoring, { alerts: { responseCodeRatios: [], customAlerts: [] } });
  assert.deepEqual(spec.build, {});
});

void test('a job schedule defaults deadlineSeconds to 300', () => {
  const { spec, diagnostics } = check((s) => {
    s.service.kind = 'job';
    for (const e of s.environments) e.schedule = { cron: '0 3 * * *' };
  });
  assert.deepEqual(diagnostics, []);
  assert.equal(spec?.environments[0]?.schedule?.deadlineSeconds, 300);
});
