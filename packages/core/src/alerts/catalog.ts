/**
 * The standard alert policies every deployment gets (shared/REFERENCE.md §2), as data. The local alert
 * evaluator, the generated handbook and the cloud targets' alert definitions all read this one catalog.
 * Thresholds that depend on the spec are described here and resolved by `alertPoliciesFor`.
 */

export const AlertSeverity = { Warning: 'WARNING', Critical: 'CRITICAL' } as const;
export type AlertSeverity = (typeof AlertSeverity)[keyof typeof AlertSeverity];

/** What a policy watches: the workload's containers, the PostgreSQL cluster, the public domain, or the service's own signals. */
export type AlertResource = 'container' | 'database' | 'uptime' | 'service';

export type AlertComparison = 'above' | 'below';

/** How samples inside the window are reduced to one value. */
export type AlertAggregation = 'p99' | 'max' | 'mean' | 'sum' | 'count' | 'fraction';

export type AlertUnit = 'ratio' | 'seconds' | 'count' | 'requests' | 'bytes';

/** A threshold known up front, or one computed from the service environment. */
export type ThresholdRule =
  | { readonly kind: 'fixed'; readonly value: number }
  /** `multiplier × healthProbes.startupInterval`, or `fallbackSeconds` without a healthProbes block. */
  | { readonly kind: 'startup-interval'; readonly multiplier: number; readonly fallbackSeconds: number }
  /** `scaling.maxCount − offset`: the alert fires once the workload cannot scale any further. */
  | { readonly kind: 'max-count'; readonly offset: number };

/** When a policy exists at all for a service environment. */
export interface Applicability {
  /** Only for these service kinds. */
  readonly kinds: readonly ('service' | 'job')[];
  /** Only when the environment has a PostgreSQL resource. */
  readonly postgreSQL?: true;
  /** Only when the environment has a domain. */
  readonly domain?: true;
  /** Only when `instances.scaling.maxCount` is at least this. */
  readonly minMaxCount?: number;
}

export interface AlertPolicyDefinition {
  /** Stable identifier, kebab-case; never changes, even when names do. */
  readonly id: string;
  /** The name the original platform used on Google Cloud. */
  readonly name: string;
  /** The name on other targets: it says what is measured. */
  readonly localName: string;
  /** Markdown. `{url}` stands for the checked URL of an uptime check. */
  readonly description: string;
  readonly severity: AlertSeverity;
  readonly appliesTo: AlertResource;
  /** What is measured, in words. */
  readonly signal: string;
  readonly unit: AlertUnit;
  readonly aggregation: AlertAggregation;
  readonly comparison: AlertComparison;
  readonly threshold: ThresholdRule;
  /** Samples are aggregated over this window. */
  readonly windowSeconds: number;
  /** The condition must hold this long before the policy fires (0: at once). */
  readonly durationSeconds: number;
  readonly applicability: Applicability;
}

const always = { kinds: ['service', 'job'] } as const;
const servicesOnly = { kinds: ['service'] } as const;
const withPostgreSQL = { kinds: ['service', 'job'], postgreSQL: true } as const;

/** The 14 standard policies, in the order the original listed them per resource. */
export const STANDARD_ALERT_POLICIES: readonly AlertPolicyDefinition[] = [
  {
    id: 'container-cpu',
    name: 'High Container CPU Utilization',
    localName: 'Container - CPU Utilization',
    description: 'High CPU Usage - it may be necessary to reduce load or increase CPU allocation.',
    severity: 'WARNING',
    appliesTo: 'container',
    signal: 'container CPU usage / its CPU limit, 99th percentile',
    unit: 'ratio',
    aggregation: 'p99',
    comparison: 'above',
    threshold: { kind: 'fixed', value: 0.9 },
    windowSeconds: 60,
    durationSeconds: 600,
    applicability: always,
  },
  {
    id: 'container-memory',
    name: 'High Container Memory Utilization',
    localName: 'Container - Memory Utilization',
    description: 'High Memory Usage - it may be necessary to reduce load or increase memory allocation.',
    severity: 'WARNING',
    appliesTo: 'container',
    signal: 'container memory usage / its memory limit, 99th percentile over 5 minutes',
    unit: 'ratio',
    aggregation: 'p99',
    comparison: 'above',
    threshold: { kind: 'fixed', value: 0.8 },
    windowSeconds: 300,
    durationSeconds: 0,
    applicability: always,
  },
  {
    id: 'container-startup-latency',
    name: 'Container Startup Latency',
    localName: 'Container - Startup Latency',
    description: 'Service containers are taking longer than configured timeouts to start up.',
    severity: 'WARNING',
    appliesTo: 'container',
    signal: 'time from container start to healthy, 99th percentile',
    unit: 'seconds',
    aggregation: 'p99',
    comparison: 'above',
    threshold: { kind: 'startup-interval', multiplier: 3, fallbackSeconds: 240 },
    windowSeconds: 60,
    durationSeconds: 0,
    applicability: always,
  },
  {
    id: 'container-instance-count',
    name: 'Container Instance Count',
    localName: 'Container - Instance Count',
    description:
      'There are a lot of service instances running - we may need to increase per-instance request concurrency, or increase the maximum instance count.',
    severity: 'WARNING',
    appliesTo: 'container',
    signal: 'running instances, maximum',
    unit: 'count',
    aggregation: 'max',
    comparison: 'above',
    threshold: { kind: 'max-count', offset: 1 },
    windowSeconds: 60,
    durationSeconds: 60,
    applicability: { kinds: ['service'], minMaxCount: 5 },
  },
  {
    id: 'pending-requests',
    name: 'Cloud Run Pending Requests',
    localName: 'Container - Pending Requests',
    description:
      'There are requests pending - we may need to increase the instance count, request concurrency, or investigate further.',
    severity: 'WARNING',
    appliesTo: 'container',
    signal: 'requests waiting for an instance, per minute',
    unit: 'requests',
    aggregation: 'sum',
    comparison: 'above',
    threshold: { kind: 'fixed', value: 5 },
    windowSeconds: 60,
    durationSeconds: 0,
    applicability: servicesOnly,
  },
  {
    id: 'instance-precondition-failed',
    name: 'Cloud Run Instance Precondition Failed',
    localName: 'Container - Instance Precondition Failed',
    description:
      'An instance failed to start due to a precondition failure.\nThis is unlikely to cause immediate downtime, and may auto-resolve if no new instances are created and/or we return to a healthy state, but you should follow up to ensure the latest release is healthy.',
    severity: 'WARNING',
    appliesTo: 'container',
    signal: 'instances that could not start at all',
    unit: 'count',
    aggregation: 'count',
    comparison: 'above',
    threshold: { kind: 'fixed', value: 0 },
    windowSeconds: 60,
    durationSeconds: 0,
    applicability: always,
  },
  {
    id: 'external-uptime-check',
    name: 'External Uptime Check',
    localName: 'External Uptime Check',
    description:
      'Service is failing to respond on {url} - this may be expected if the service was recently provisioned or if its external domain has changed.',
    severity: 'CRITICAL',
    appliesTo: 'uptime',
    signal: 'fraction of passing `GET https://<domain>/-/healthz` checks, one every 60 seconds',
    unit: 'ratio',
    aggregation: 'fraction',
    comparison: 'below',
    threshold: { kind: 'fixed', value: 0.4 },
    windowSeconds: 180,
    durationSeconds: 0,
    applicability: { kinds: ['service'], domain: true },
  },
  {
    id: 'cloudsql-memory',
    name: 'Cloud SQL - Memory Utilization',
    localName: 'Database - Memory Utilization',
    description: 'Database instance memory utilization is above acceptable threshold.',
    severity: 'WARNING',
    appliesTo: 'database',
    signal: 'database memory usage / its memory size',
    unit: 'ratio',
    aggregation: 'mean',
    comparison: 'above',
    threshold: { kind: 'fixed', value: 0.8 },
    windowSeconds: 60,
    durationSeconds: 0,
    applicability: withPostgreSQL,
  },
  {
    id: 'cloudsql-cpu',
    name: 'Cloud SQL - CPU Utilization',
    localName: 'Database - CPU Utilization',
    description: 'Database instance CPU utilization is above acceptable threshold.',
    severity: 'WARNING',
    appliesTo: 'database',
    signal: 'database CPU usage / its cores',
    unit: 'ratio',
    aggregation: 'mean',
    comparison: 'above',
    threshold: { kind: 'fixed', value: 0.9 },
    windowSeconds: 60,
    durationSeconds: 180,
    applicability: withPostgreSQL,
  },
  {
    id: 'cloudsql-server-availability',
    name: 'Cloud SQL - Server Availability',
    localName: 'Database - Server Availability',
    description: 'Database instance is down.',
    severity: 'WARNING',
    appliesTo: 'database',
    signal: 'database server up (1) or down (0)',
    unit: 'ratio',
    aggregation: 'mean',
    comparison: 'below',
    threshold: { kind: 'fixed', value: 1 },
    windowSeconds: 60,
    durationSeconds: 0,
    applicability: withPostgreSQL,
  },
  {
    id: 'cloudsql-disk',
    name: 'Cloud SQL - Disk Utilization',
    localName: 'Database - Disk Utilization',
    description: 'Database instance disk utilization is above acceptable threshold.',
    severity: 'WARNING',
    appliesTo: 'database',
    signal: 'database disk usage / its disk size, over 5 minutes',
    unit: 'ratio',
    aggregation: 'mean',
    comparison: 'above',
    threshold: { kind: 'fixed', value: 0.95 },
    windowSeconds: 300,
    durationSeconds: 0,
    applicability: withPostgreSQL,
  },
  {
    id: 'cloudsql-connections',
    name: 'Cloud SQL - Connections',
    localName: 'Database - Connections',
    description:
      "The number of database connections is approaching the maximum number of connections.\nThis can be caused by an increase in the number of active service instances.\n\nTry increasing the 'resources.postgreSQL.maxConnections' configuration parameter.",
    severity: 'WARNING',
    appliesTo: 'database',
    signal: 'database backends / maxConnections, maximum over 2 minutes',
    unit: 'ratio',
    aggregation: 'max',
    comparison: 'above',
    threshold: { kind: 'fixed', value: 0.9 },
    windowSeconds: 120,
    durationSeconds: 0,
    applicability: withPostgreSQL,
  },
  {
    id: 'cloudsql-sustained-lock-time',
    name: 'Cloud SQL - Sustained Per-Query Lock Times',
    localName: 'Database - Sustained Per-Query Lock Times',
    description: 'Database queries are encountering lock times above acceptable thresholds over a window.',
    severity: 'WARNING',
    appliesTo: 'database',
    signal: 'lock wait time per query',
    unit: 'seconds',
    aggregation: 'mean',
    comparison: 'above',
    threshold: { kind: 'fixed', value: 0.2 },
    windowSeconds: 60,
    durationSeconds: 180,
    applicability: withPostgreSQL,
  },
  {
    id: 'cloudsql-lock-time-spike',
    name: 'Cloud SQL - Spike in Per-Query Lock Time',
    localName: 'Database - Spike in Per-Query Lock Time',
    description: 'Database queries encountered lock times well above acceptable thresholds.',
    severity: 'WARNING',
    appliesTo: 'database',
    signal: 'lock wait time per query, over 2 minutes',
    unit: 'seconds',
    aggregation: 'max',
    comparison: 'above',
    threshold: { kind: 'fixed', value: 1 },
    windowSeconds: 120,
    durationSeconds: 0,
    applicability: withPostgreSQL,
  },
];

/** Looks up a standard policy by its stable id. */
export function standardAlertPolicy(id: string): AlertPolicyDefinition | undefined {
  return STANDARD_ALERT_POLICIES.find((p) => p.id === id);
}
