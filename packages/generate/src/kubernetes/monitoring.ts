/**
 * The deployment's alerts on Kubernetes: a PrometheusRule with every policy of the catalog as PromQL
 * (the same resolved policies the handbook and the local evaluator use) and a blackbox-exporter Probe for
 * the uptime check.
 */
import { alertPoliciesFor, promqlRule, PromqlUnsupported, type AlertPolicy } from '@msp/core';
import { CannotExpress } from '../errors.js';
import type { DeploymentModel } from '../model.js';
import { dbName, meta, type Manifest } from './workload.js';

export interface MonitoringOptions {
  /** The blackbox exporter's address, `host:port`. */
  readonly blackboxExporter?: string;
  /** The blackbox module that sends `Authorization: Bearer <diagnostics secret>` (see docs/kubernetes.md). */
  readonly blackboxModule?: string;
}

const cache = new WeakMap<DeploymentModel, Map<string, AlertPolicy[]>>();

/** The policies of one deployment, as its environment's runtime names them (computed once per model). */
export function policiesOf(m: DeploymentModel, runtime: 'kubernetes' | 'gcp'): AlertPolicy[] {
  const byRuntime = cache.get(m) ?? new Map<string, AlertPolicy[]>();
  cache.set(m, byRuntime);
  const hit = byRuntime.get(runtime);
  if (hit) return hit;
  const policies = resolvePolicies(m, runtime);
  byRuntime.set(runtime, policies);
  return policies;
}

function resolvePolicies(m: DeploymentModel, runtime: 'kubernetes' | 'gcp'): AlertPolicy[] {
  const d = m.deployment;
  const env = d.domain !== undefined ? { ...d.environment, domain: d.domain } : d.environment;
  return alertPoliciesFor(d.service, env, {
    channels: d.envConfig.notifications.channels,
    ...(m.sharedChannel !== undefined ? { sharedChannel: m.sharedChannel } : {}),
    runtime,
  });
}

function fieldOf(m: DeploymentModel, policy: AlertPolicy): string {
  const i = m.deployment.service.monitoring.alerts.customAlerts.findIndex((c) => policy.name === c.name);
  return `monitoring.alerts.customAlerts[${i}].condition.type`;
}

export function prometheusRule(m: DeploymentModel): Manifest {
  const pg = m.deployment.environment.resources.postgreSQL;
  const scope = {
    namespace: m.namespace,
    workload: m.workload,
    database: dbName(m),
    ingress: m.workload,
    ...(pg ? { maxConnections: pg.maxConnections } : {}),
  };
  const rules = policiesOf(m, 'kubernetes').map((policy) => {
    let rule;
    try {
      rule = promqlRule(policy, scope);
    } catch (error) {
      if (error instanceof PromqlUnsupported)
        throw new CannotExpress('kubernetes', m.serviceFile, fieldOf(m, policy), error.message);
      throw error;
    }
    return {
      alert: policy.title,
      expr: rule.expr,
      for: rule.for,
      labels: {
        severity: policy.severity.toLowerCase(),
        msp_alert_id: policy.id,
        msp_service_id: policy.service,
        msp_environment_id: policy.environment,
        msp_deployment: m.deployment.key,
        msp_page: String(policy.notify.page),
      },
      annotations: {
        summary: `${policy.title} (${m.deployment.key})`,
        description: policy.description,
        channels: policy.notify.channels.join(','),
      },
    };
  });
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: meta(m, `${m.workload}-alerts`),
    spec: { groups: [{ name: `msp.${m.namespace}`, rules }] },
  };
}

export function uptimeProbe(m: DeploymentModel, options: MonitoringOptions = {}): Manifest[] {
  const uptime = policiesOf(m, 'kubernetes').find((p) => p.uptimeCheck)?.uptimeCheck;
  if (!uptime) return [];
  return [
    {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'Probe',
      metadata: meta(m, `${m.workload}-uptime`),
      spec: {
        interval: `${uptime.periodSeconds}s`,
        scrapeTimeout: `${uptime.timeoutSeconds}s`,
        module: options.blackboxModule ?? 'http_msp_healthz',
        prober: { url: options.blackboxExporter ?? 'blackbox-exporter.monitoring.svc:9115' },
        targets: { staticConfig: { static: [uptime.url], labels: { msp_deployment: m.deployment.key } } },
      },
    },
  ];
}
