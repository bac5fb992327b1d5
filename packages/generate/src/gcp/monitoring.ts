/**
 * The alert catalog as Cloud Monitoring alert policies (Terraform `google_monitoring_alert_policy`) and
 * the uptime check. Thresholds, windows and durations come from the resolved policies; only the metric
 * types and aligners live here.
 */
import type { AlertPolicy } from '@msp/core';
import { CannotExpress } from '../errors.js';
import type { DeploymentModel } from '../model.js';

type Json = Record<string, unknown>;

interface MetricCondition {
  filter: string;
  aligner: string;
  reducer?: string;
  /** Multiplies the catalog threshold into the metric's unit. */
  scale?: number;
  denominator?: string;
}

const run = (m: DeploymentModel, metric: string, extra = '') =>
  `resource.type = "cloud_run_revision" AND resource.labels.service_name = "${runName(m)}" AND metric.type = "run.googleapis.com/${metric}"${extra}`;
const sql = (m: DeploymentModel, metric: string) =>
  `resource.type = "cloudsql_database" AND resource.labels.database_id = "${projectOf(m)}:${sqlInstanceName(m)}" AND metric.type = "cloudsql.googleapis.com/database/${metric}"`;

/** The Cloud Run service: the service id, or `<service>-<instance>` for a managed instance. */
export const runName = (m: DeploymentModel) =>
  m.deployment.instance ? `${m.workload}-${m.name}` : m.workload;
/**
 * The Google Cloud project of a deployment: the service environment's projectID; a managed instance gets a
 * project of its own, `<service>-<instance id>` (isolated per customer).
 */
export function projectOf(m: DeploymentModel): string {
  const i = m.deployment.instance;
  if (!i) return m.deployment.environment.projectID;
  const id = `${m.workload}-${i.id}`;
  if (id.length > 30)
    throw new CannotExpress(
      'gcp',
      i.file,
      'instance id',
      `the project id ${id} is longer than 30 characters; use a shorter instance folder name`,
    );
  return id;
}
export const sqlInstanceName = (m: DeploymentModel) => `${runName(m)}-${m.env}`;

function metricOf(m: DeploymentModel, p: AlertPolicy): MetricCondition | undefined {
  const maxConnections = m.deployment.environment.resources.postgreSQL?.maxConnections ?? 100;
  switch (p.id) {
    case 'container-cpu':
      return {
        filter: run(m, 'container/cpu/utilizations'),
        aligner: 'ALIGN_PERCENTILE_99',
        reducer: 'REDUCE_MAX',
      };
    case 'container-memory':
      return {
        filter: run(m, 'container/memory/utilizations'),
        aligner: 'ALIGN_PERCENTILE_99',
        reducer: 'REDUCE_MAX',
      };
    case 'container-startup-latency':
      // The metric is in milliseconds.
      return {
        filter: run(m, 'container/startup_latencies'),
        aligner: 'ALIGN_PERCENTILE_99',
        reducer: 'REDUCE_MAX',
        scale: 1000,
      };
    case 'container-instance-count':
      return { filter: run(m, 'container/instance_count'), aligner: 'ALIGN_MAX', reducer: 'REDUCE_SUM' };
    case 'pending-requests':
      return {
        filter: run(m, 'pending_queue/pending_requests'),
        aligner: 'ALIGN_SUM',
        reducer: 'REDUCE_SUM',
      };
    case 'cloudsql-memory':
      return { filter: sql(m, 'memory/utilization'), aligner: 'ALIGN_MEAN' };
    case 'cloudsql-cpu':
      return { filter: sql(m, 'cpu/utilization'), aligner: 'ALIGN_MEAN' };
    case 'cloudsql-server-availability':
      return { filter: sql(m, 'up'), aligner: 'ALIGN_MIN' };
    case 'cloudsql-disk':
      return { filter: sql(m, 'disk/utilization'), aligner: 'ALIGN_MEAN' };
    case 'cloudsql-connections':
      return {
        filter: sql(m, 'postgresql/num_backends'),
        aligner: 'ALIGN_MAX',
        reducer: 'REDUCE_SUM',
        scale: maxConnections,
      };
    case 'cloudsql-sustained-lock-time':
    case 'cloudsql-lock-time-spike':
      // Query Insights reports lock time in microseconds, per query.
      return {
        filter: sql(m, 'postgresql/insights/perquery/lock_time'),
        aligner: 'ALIGN_RATE',
        reducer: 'REDUCE_MAX',
        scale: 1_000_000,
      };
  }
  if (p.source === 'response-code-ratio' && p.responseCodes) {
    const c = p.responseCodes;
    const codes =
      c.code !== undefined
        ? ` AND metric.labels.response_code = "${c.code}"`
        : c.codeClass !== undefined
          ? ` AND metric.labels.response_code_class = "${c.codeClass}"`
          : '';
    const excluded = c.excludeCodes.map((x) => ` AND metric.labels.response_code != "${x}"`).join('');
    return {
      filter: run(m, 'request_count', codes + excluded),
      denominator: run(m, 'request_count'),
      aligner: 'ALIGN_RATE',
      reducer: 'REDUCE_SUM',
    };
  }
  return undefined;
}

const seconds = (n: number) => `${n}s`;

/** The condition of one policy, as the google provider spells it. */
function conditionOf(m: DeploymentModel, p: AlertPolicy, uptimeRef: string | undefined): Json {
  if (p.id === 'external-uptime-check' && uptimeRef) {
    return {
      condition_threshold: {
        filter: `resource.type = "uptime_url" AND metric.type = "monitoring.googleapis.com/uptime_check/check_passed" AND metric.labels.check_id = "\${${uptimeRef}.uptime_check_id}"`,
        comparison: 'COMPARISON_LT',
        threshold_value: p.threshold,
        duration: seconds(p.durationSeconds),
        aggregations: [
          {
            alignment_period: seconds(p.windowSeconds),
            per_series_aligner: 'ALIGN_FRACTION_TRUE',
            cross_series_reducer: 'REDUCE_MEAN',
          },
        ],
        trigger: { count: 1 },
      },
    };
  }
  if (p.id === 'instance-precondition-failed') {
    return {
      condition_matched_log: {
        filter: `resource.type = "cloud_run_revision" AND resource.labels.service_name = "${runName(m)}" AND severity >= ERROR AND textPayload:"failed precondition"`,
      },
    };
  }
  if (p.source === 'custom' && p.query) {
    return p.query.type === 'promql'
      ? {
          condition_prometheus_query_language: { query: p.query.query, duration: seconds(p.durationSeconds) },
        }
      : {
          condition_monitoring_query_language: { query: p.query.query, duration: seconds(p.durationSeconds) },
        };
  }
  const metric = metricOf(m, p);
  if (!metric) throw new Error(`no Cloud Monitoring rendering for alert policy ${p.id}`);
  const aggregation = (filterAligner: string) => ({
    alignment_period: seconds(p.windowSeconds),
    per_series_aligner: filterAligner,
    ...(metric.reducer ? { cross_series_reducer: metric.reducer } : {}),
  });
  return {
    condition_threshold: {
      filter: metric.filter,
      ...(metric.denominator
        ? { denominator_filter: metric.denominator, denominator_aggregations: [aggregation(metric.aligner)] }
        : {}),
      comparison: p.comparison === 'above' ? 'COMPARISON_GT' : 'COMPARISON_LT',
      threshold_value: Number((p.threshold * (metric.scale ?? 1)).toPrecision(12)),
      duration: seconds(p.durationSeconds),
      aggregations: [aggregation(metric.aligner)],
      trigger: { count: 1 },
    },
  };
}

export function alertPolicy(m: DeploymentModel, p: AlertPolicy, uptimeRef: string | undefined): Json {
  const condition = conditionOf(m, p, uptimeRef);
  return {
    project: projectOf(m),
    display_name: `${p.title} (${m.deployment.key})`,
    combiner: 'OR',
    severity: p.severity,
    enabled: true,
    documentation: { content: p.description, mime_type: 'text/markdown' },
    user_labels: { msp_alert_id: p.id, msp_service_id: p.service, msp_environment_id: p.environment },
    alert_strategy: {
      auto_close: '86400s',
      ...('condition_matched_log' in condition ? { notification_rate_limit: { period: '300s' } } : {}),
    },
    conditions: [{ display_name: p.title, ...condition }],
    notification_channels: `\${var.notification_channels_${p.notify.page ? 'page' : 'chat'}}`,
  };
}

export function uptimeCheck(m: DeploymentModel, p: AlertPolicy): Json | undefined {
  if (!p.uptimeCheck) return undefined;
  const url = new URL(p.uptimeCheck.url);
  return {
    project: projectOf(m),
    display_name: `${m.deployment.key} ${url.host}`,
    period: seconds(p.uptimeCheck.periodSeconds),
    timeout: seconds(p.uptimeCheck.timeoutSeconds),
    http_check: {
      path: url.pathname,
      port: 443,
      use_ssl: true,
      validate_ssl: true,
      request_method: 'GET',
      headers: { Authorization: 'Bearer ${var.diagnostics_secret}' },
      mask_headers: true,
    },
    monitored_resource: {
      type: 'uptime_url',
      labels: { host: url.host, project_id: projectOf(m) },
    },
  };
}
