/**
 * The alert catalog as PromQL: one Prometheus alerting rule per resolved policy (`alertPoliciesFor`), over
 * the metrics a Kubernetes cluster with the usual exporters has (cAdvisor, kube-state-metrics, kubelet,
 * CloudNativePG, blackbox exporter, ingress-nginx). Thresholds, windows and durations come from the
 * catalog; only the metric names live here.
 */
import type { AlertPolicy } from './policies-for.js';

/** Where one deployment's series are: its namespace and the names of its workload, database and ingress. */
export interface PromqlScope {
  readonly namespace: string;
  /** Deployment and container name of the workload. */
  readonly workload: string;
  /** CloudNativePG cluster name (its pods are `<cluster>-<n>`, the container `postgres`). */
  readonly database?: string;
  /** `resources.postgreSQL.maxConnections`. */
  readonly maxConnections?: number;
  /** Ingress name, for response-code ratios. */
  readonly ingress?: string;
}

export interface PromqlRule {
  readonly expr: string;
  /** Prometheus duration, e.g. `10m`; `0s` fires at once. */
  readonly for: string;
}

/** A policy the PromQL rendering cannot express (e.g. an MQL custom alert). */
export class PromqlUnsupported extends Error {}

/** Seconds as a Prometheus duration: `600` → `10m`, `90` → `90s`. */
export function promDuration(seconds: number): string {
  if (seconds > 0 && seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds > 0 && seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** A label matcher value, quoted for PromQL. */
function q(value: string): string {
  return JSON.stringify(value);
}

/** The PromQL of one policy's signal (without the comparison), or PromqlUnsupported. */
export function promqlSignal(policy: AlertPolicy, scope: PromqlScope): string {
  const ns = `namespace=${q(scope.namespace)}`;
  const app = `${ns}, container=${q(scope.workload)}`;
  const db = scope.database ?? `${scope.workload}-db`;
  const dbPods = `${ns}, pod=~${q(`${db}-[0-9]+`)}`;
  const pg = `${dbPods}, container="postgres"`;
  const w = promDuration(policy.windowSeconds);
  const limit = (selector: string, resource: string) =>
    `on (namespace, pod, container) group_left () kube_pod_container_resource_limits{${selector}, resource=${q(resource)}}`;
  switch (policy.id) {
    case 'container-cpu':
      return `quantile(0.99, rate(container_cpu_usage_seconds_total{${app}}[${w}]) / ${limit(app, 'cpu')})`;
    case 'container-memory':
      return `quantile(0.99, avg_over_time(container_memory_working_set_bytes{${app}}[${w}]) / ${limit(app, 'memory')})`;
    case 'container-startup-latency':
      // Both per pod; the workload's pods are `<deployment>-<replicaset hash>-<suffix>`.
      return `quantile(0.99, kube_pod_status_ready_time{${ns}, pod=~${q(`${scope.workload}-[a-z0-9]+-[a-z0-9]+`)}} - on (namespace, pod) kube_pod_start_time{${ns}})`;
    case 'container-instance-count':
      return `max_over_time(kube_deployment_status_replicas_available{${ns}, deployment=${q(scope.workload)}}[${w}])`;
    case 'pending-requests':
      return `sum(max_over_time(msp_pending_requests{${ns}, service=${q(scope.workload)}}[${w}]))`;
    case 'instance-precondition-failed':
      return `count(max_over_time(kube_pod_container_status_waiting_reason{${app}, reason=~"CreateContainerConfigError|CreateContainerError|ErrImagePull|ImagePullBackOff|InvalidImageName"}[${w}]) == 1)`;
    case 'external-uptime-check':
      if (!policy.uptimeCheck) throw new PromqlUnsupported('an uptime check needs a domain');
      return `avg_over_time(probe_success{instance=${q(policy.uptimeCheck.url)}}[${w}])`;
    case 'cloudsql-memory':
      return `max(avg_over_time(container_memory_working_set_bytes{${pg}}[${w}]) / ${limit(pg, 'memory')})`;
    case 'cloudsql-cpu':
      return `max(rate(container_cpu_usage_seconds_total{${pg}}[${w}]) / ${limit(pg, 'cpu')})`;
    case 'cloudsql-server-availability':
      return `max(max_over_time(cnpg_collector_up{${dbPods}}[${w}]))`;
    case 'cloudsql-disk':
      return `max(avg_over_time(kubelet_volume_stats_used_bytes{${ns}, persistentvolumeclaim=~${q(`${db}-[0-9]+`)}}[${w}]) / on (namespace, persistentvolumeclaim) kubelet_volume_stats_capacity_bytes{${ns}})`;
    case 'cloudsql-connections':
      return `max(max_over_time(cnpg_msp_connections_backends{${dbPods}}[${w}])) / ${scope.maxConnections ?? 100}`;
    case 'cloudsql-sustained-lock-time':
    case 'cloudsql-lock-time-spike':
      return `max(max_over_time(cnpg_msp_lock_wait_max_seconds{${dbPods}}[${w}]))`;
  }
  if (policy.source === 'response-code-ratio' && policy.responseCodes) {
    const c = policy.responseCodes;
    const ingress = `${ns}, ingress=${q(scope.ingress ?? scope.workload)}`;
    const codes = c.code !== undefined ? `${c.code}` : c.codeClass ? `${c.codeClass[0]}..` : '...';
    const exclude = c.excludeCodes.length > 0 ? `, status!~${q(c.excludeCodes.join('|'))}` : '';
    return (
      `sum(rate(nginx_ingress_controller_requests{${ingress}, status=~${q(codes)}${exclude}}[${w}]))` +
      ` / sum(rate(nginx_ingress_controller_requests{${ingress}}[${w}]))`
    );
  }
  if (policy.source === 'custom' && policy.query) {
    if (policy.query.type !== 'promql')
      throw new PromqlUnsupported(
        `a ${policy.query.type} query cannot run on Prometheus; write it in PromQL`,
      );
    return policy.query.query;
  }
  throw new PromqlUnsupported(`no PromQL rendering for alert policy ${policy.id}`);
}

/** The alerting rule of one policy: its signal compared with its threshold, pending for its duration. */
export function promqlRule(policy: AlertPolicy, scope: PromqlScope): PromqlRule {
  const signal = promqlSignal(policy, scope);
  // A custom alert fires when its query returns anything: the query is its own condition.
  const expr =
    policy.source === 'custom'
      ? signal
      : `${signal} ${policy.comparison === 'above' ? '>' : '<'} ${policy.threshold}`;
  return { expr, for: promDuration(policy.durationSeconds) };
}

/**
 * The custom queries (CloudNativePG `customQueriesConfigMap`, its queries.yaml) that export the database
 * signals the catalog needs and CloudNativePG's defaults lack: backends, and the longest lock wait.
 */
export const CNPG_CUSTOM_QUERIES = {
  msp_connections: {
    query: "SELECT count(*) AS backends FROM pg_stat_activity WHERE backend_type = 'client backend'",
    metrics: [{ backends: { usage: 'GAUGE', description: 'Client backends (connections) of the server' } }],
  },
  msp_lock_wait: {
    query:
      "SELECT coalesce(max(extract(epoch FROM now() - state_change)), 0) AS max_seconds FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
    metrics: [
      { max_seconds: { usage: 'GAUGE', description: 'Longest time a query has waited for a lock, seconds' } },
    ],
  },
} as const;
