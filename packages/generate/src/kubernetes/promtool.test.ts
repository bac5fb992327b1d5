/**
 * Every generated PrometheusRule through `promtool check rules`, and a `promtool test rules` unit test per
 * standard policy: series that put its signal just past the threshold fire it (after its duration), and
 * series at the threshold or on the quiet side do not. promtool comes from Debian's `prometheus` package
 * (scripts/ensure-promtool.sh installs it when npm test runs as root); without it these tests skip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { STANDARD_ALERT_POLICIES } from '@msp/core';
import { generate } from '../index.js';
import { examplePlatform, load } from '../testing/fixture.js';
import { documentsOf } from '../testing/validate.js';

function promtool(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}
const PROMTOOL = promtool();
const SKIP = PROMTOOL
  ? false
  : "promtool is not installed: install Debian's `prometheus` package (npm test does, as root)";

interface Rule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

async function rulesOf(envs: readonly string[]) {
  const dir = await examplePlatform('kubernetes', envs);
  try {
    const { files } = generate(await load(dir), { target: 'kubernetes' });
    return files
      .filter((f) => f.path.endsWith('/prometheusrule.yaml'))
      .map((f) => ({
        path: f.path,
        doc: documentsOf(f.content)[0] as { spec: { groups: { name: string; rules: Rule[] }[] } },
      }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void test('promtool check rules accepts every generated PrometheusRule', { skip: SKIP }, async (t) => {
  const scratch = await mkdtemp(join(tmpdir(), 'msp-promtool-'));
  t.after(() => rm(scratch, { recursive: true, force: true }));
  const rules = await rulesOf(['dev', 'prod']);
  assert.equal(rules.length, 8);
  const files: string[] = [];
  for (const [i, r] of rules.entries()) {
    const file = join(scratch, `rules-${i}.yaml`);
    await writeFile(file, stringify(r.doc.spec));
    files.push(file);
  }
  const out = spawnSync(PROMTOOL!, ['check', 'rules', ...files], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stdout + out.stderr);
});

const NS = 'releaseregistry-prod';
const C = 'releaseregistry';
const POD = 'releaseregistry-7d9f8b6c5d-x2x4q';
const DB_POD = 'releaseregistry-db-1';
const URL_ = 'https://releaseregistry.acme.localhost/-/healthz';
const N = 120; // samples, 15 s apart: 30 minutes

type Series = { series: string; values: string };
const constant = (series: string, v: number): Series => ({ series, values: `${v}x${N}` });
const counter = (series: string, perSecond: number): Series => ({
  series,
  values: `0+${perSecond * 15}x${N}`,
});
const sel = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;

/** Per standard policy: input series for a signal value, the signal values that fire and stay quiet, and the series labels the alert keeps. */
const CASES: Record<
  string,
  { inputs: (v: number) => Series[]; fire: number; quiet: number; keeps?: Record<string, string> }
> = {
  'container-cpu': {
    inputs: (v) => [
      counter(sel('container_cpu_usage_seconds_total', { namespace: NS, container: C, pod: POD }), v),
      constant(
        sel('kube_pod_container_resource_limits', { namespace: NS, container: C, pod: POD, resource: 'cpu' }),
        1,
      ),
    ],
    fire: 0.95,
    quiet: 0.85,
  },
  'container-memory': {
    inputs: (v) => [
      constant(
        sel('container_memory_working_set_bytes', { namespace: NS, container: C, pod: POD }),
        v * 1024,
      ),
      constant(
        sel('kube_pod_container_resource_limits', {
          namespace: NS,
          container: C,
          pod: POD,
          resource: 'memory',
        }),
        1024,
      ),
    ],
    fire: 0.85,
    quiet: 0.8,
  },
  'container-startup-latency': {
    inputs: (v) => [
      constant(sel('kube_pod_status_ready_time', { namespace: NS, pod: POD }), 1_000_000 + v),
      constant(sel('kube_pod_start_time', { namespace: NS, pod: POD }), 1_000_000),
    ],
    fire: 10, // 3 × startupInterval (3 s) = 9
    quiet: 9,
  },
  'container-instance-count': {
    inputs: (v) => [
      constant(sel('kube_deployment_status_replicas_available', { namespace: NS, deployment: C }), v),
    ],
    fire: 5, // maxCount 5 − 1
    quiet: 4,
    keeps: { namespace: NS, deployment: C },
  },
  'pending-requests': {
    inputs: (v) => [constant(sel('msp_pending_requests', { namespace: NS, service: C }), v)],
    fire: 6,
    quiet: 5,
  },
  'instance-precondition-failed': {
    inputs: (v) => [
      constant(
        sel('kube_pod_container_status_waiting_reason', {
          namespace: NS,
          container: C,
          pod: POD,
          reason: 'CreateContainerConfigError',
        }),
        v,
      ),
    ],
    fire: 1,
    quiet: 0,
  },
  'external-uptime-check': {
    inputs: (v) => [
      constant(
        sel('probe_success', { instance: URL_, job: 'probe/releaseregistry-prod/releaseregistry-uptime' }),
        v,
      ),
    ],
    fire: 0.35,
    quiet: 0.4,
    keeps: { instance: URL_, job: 'probe/releaseregistry-prod/releaseregistry-uptime' },
  },
  'cloudsql-memory': {
    inputs: (v) => [
      constant(
        sel('container_memory_working_set_bytes', { namespace: NS, container: 'postgres', pod: DB_POD }),
        v * 4096,
      ),
      constant(
        sel('kube_pod_container_resource_limits', {
          namespace: NS,
          container: 'postgres',
          pod: DB_POD,
          resource: 'memory',
        }),
        4096,
      ),
    ],
    fire: 0.85,
    quiet: 0.8,
  },
  'cloudsql-cpu': {
    inputs: (v) => [
      counter(
        sel('container_cpu_usage_seconds_total', { namespace: NS, container: 'postgres', pod: DB_POD }),
        v,
      ),
      constant(
        sel('kube_pod_container_resource_limits', {
          namespace: NS,
          container: 'postgres',
          pod: DB_POD,
          resource: 'cpu',
        }),
        1,
      ),
    ],
    fire: 0.95,
    quiet: 0.85,
  },
  'cloudsql-server-availability': {
    inputs: (v) => [constant(sel('cnpg_collector_up', { namespace: NS, pod: DB_POD }), v)],
    fire: 0,
    quiet: 1,
  },
  'cloudsql-disk': {
    inputs: (v) => [
      constant(
        sel('kubelet_volume_stats_used_bytes', { namespace: NS, persistentvolumeclaim: DB_POD }),
        v * 10_000,
      ),
      constant(
        sel('kubelet_volume_stats_capacity_bytes', { namespace: NS, persistentvolumeclaim: DB_POD }),
        10_000,
      ),
    ],
    fire: 0.97,
    quiet: 0.95,
  },
  'cloudsql-connections': {
    inputs: (v) => [constant(sel('cnpg_msp_connections_backends', { namespace: NS, pod: DB_POD }), v * 100)],
    fire: 0.91, // of maxConnections 100
    quiet: 0.9,
  },
  'cloudsql-sustained-lock-time': {
    inputs: (v) => [constant(sel('cnpg_msp_lock_wait_max_seconds', { namespace: NS, pod: DB_POD }), v)],
    fire: 0.25,
    quiet: 0.2,
  },
  'cloudsql-lock-time-spike': {
    inputs: (v) => [constant(sel('cnpg_msp_lock_wait_max_seconds', { namespace: NS, pod: DB_POD }), v)],
    fire: 1.5,
    quiet: 1,
  },
};

void test(
  'promtool test rules: each standard policy fires past its threshold, after its duration, and not at or below it',
  { skip: SKIP },
  async (t) => {
    const scratch = await mkdtemp(join(tmpdir(), 'msp-promtool-'));
    t.after(() => rm(scratch, { recursive: true, force: true }));
    const rule = (await rulesOf(['prod'])).find(
      (r) => r.path === 'kubernetes/prod/releaseregistry/prometheusrule.yaml',
    )!;
    const rules = rule.doc.spec.groups[0]!.rules;
    const rulesFile = join(scratch, 'rules.yaml');
    await writeFile(rulesFile, stringify(rule.doc.spec));
    // releaseregistry/prod has a domain, PostgreSQL and maxCount 5: every standard policy applies.
    assert.deepEqual(
      rules.map((r) => r.labels.msp_alert_id).filter((id) => !id!.startsWith('response-code-ratio')),
      STANDARD_ALERT_POLICIES.map((p) => p.id),
    );
    const tests: unknown[] = [];
    for (const policy of STANDARD_ALERT_POLICIES) {
      const c = CASES[policy.id]!;
      const r = rules.find((x) => x.labels.msp_alert_id === policy.id)!;
      const settle = (policy.windowSeconds + policy.durationSeconds) / 60 + 2;
      const fired = [{ exp_labels: { ...r.labels, ...c.keeps }, exp_annotations: r.annotations }];
      const at = (minutes: number, exp_alerts: unknown[]) => ({
        eval_time: `${Math.round(minutes * 60)}s`,
        alertname: r.alert,
        exp_alerts,
      });
      tests.push({
        name: `${policy.id} fires at ${c.fire}`,
        interval: '15s',
        input_series: c.inputs(c.fire),
        alert_rule_test: [
          at(settle, fired),
          // Pending, not firing, before its duration has passed.
          ...(policy.durationSeconds >= 120
            ? [at(policy.windowSeconds / 60 + policy.durationSeconds / 120, [])]
            : []),
        ],
      });
      tests.push({
        name: `${policy.id} stays quiet at ${c.quiet}`,
        interval: '15s',
        input_series: c.inputs(c.quiet),
        alert_rule_test: [at(settle, [])],
      });
    }
    // The spec's own response-code ratio (5xx above 5 % for 5 minutes).
    const ratio = rules.find((x) => x.labels.msp_alert_id === 'response-code-ratio-server-errors')!;
    const requests = (errors: number) => [
      counter(sel('nginx_ingress_controller_requests', { namespace: NS, ingress: C, status: '500' }), errors),
      counter(
        sel('nginx_ingress_controller_requests', { namespace: NS, ingress: C, status: '200' }),
        100 - errors,
      ),
    ];
    tests.push({
      name: 'server errors fire at 6 %',
      interval: '15s',
      input_series: requests(6),
      alert_rule_test: [
        {
          eval_time: '8m',
          alertname: ratio.alert,
          exp_alerts: [{ exp_labels: ratio.labels, exp_annotations: ratio.annotations }],
        },
      ],
    });
    tests.push({
      name: 'server errors quiet at 4 %',
      interval: '15s',
      input_series: requests(4),
      alert_rule_test: [{ eval_time: '8m', alertname: ratio.alert, exp_alerts: [] }],
    });

    const testFile = join(scratch, 'tests.yaml');
    await writeFile(
      testFile,
      stringify({ rule_files: [rulesFile], evaluation_interval: '15s', tests }, { lineWidth: 0 }),
    );
    const out = spawnSync(PROMTOOL!, ['test', 'rules', testFile], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stdout + out.stderr);
    t.diagnostic(execFileSync(PROMTOOL!, ['--version'], { encoding: 'utf8' }).split('\n')[0]!);
  },
);
