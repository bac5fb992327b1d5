/**
 * Which alert policies a service environment has, with every threshold resolved: the applicable standard
 * policies plus the spec's own response-code ratios and custom alerts. Pure; the alert evaluator, the
 * handbook and the cloud targets all start from this list.
 */
import type { ServiceEnvironment, ServiceSpec } from '@msp/spec';
import {
  STANDARD_ALERT_POLICIES,
  type AlertAggregation,
  type AlertComparison,
  type AlertPolicyDefinition,
  type AlertResource,
  type AlertSeverity,
  type AlertUnit,
  type ThresholdRule,
} from './catalog.js';

export type AlertRuntime = 'local' | 'kubernetes' | 'gcp';

/** The default chat channel of a service environment, before placeholders are expanded. */
export const DEFAULT_ALERT_CHANNEL = '#alerts-{service}-{env}';

/** Where a policy notifies: chat channels always; the owners' pager only for CRITICAL in production. */
export interface AlertNotify {
  readonly channels: readonly string[];
  readonly page: boolean;
}

export interface AlertPolicy {
  readonly id: string;
  /** The name shown on this environment's runtime: the Google Cloud name on gcp, `localName` elsewhere. */
  readonly title: string;
  readonly name: string;
  readonly localName: string;
  /** Markdown, placeholders expanded. */
  readonly description: string;
  readonly severity: AlertSeverity;
  readonly appliesTo: AlertResource;
  readonly source: 'standard' | 'response-code-ratio' | 'custom';
  readonly signal: string;
  readonly unit: AlertUnit;
  readonly aggregation: AlertAggregation;
  readonly comparison: AlertComparison;
  readonly threshold: number;
  readonly windowSeconds: number;
  readonly durationSeconds: number;
  readonly service: string;
  readonly environment: string;
  readonly notify: AlertNotify;
  /** The probe of an uptime check. */
  readonly uptimeCheck?: {
    readonly url: string;
    readonly periodSeconds: number;
    readonly timeoutSeconds: number;
  };
  /** The responses a response-code ratio counts. */
  readonly responseCodes?: {
    readonly code?: number;
    readonly codeClass?: string;
    readonly excludeCodes: readonly number[];
  };
  /** The query of a custom alert. */
  readonly query?: { readonly type: string; readonly query: string };
}

export interface AlertPoliciesOptions {
  /** Channel templates from msp.yaml (`{service}`, `{env}` expanded); default `#alerts-{service}-{env}`. */
  readonly channels?: readonly string[];
  /** msp.yaml's shared alerts channel, notified too. */
  readonly sharedChannel?: string;
  /** Decides which names are shown; default `local`. */
  readonly runtime?: AlertRuntime;
}

/** How often an uptime check probes, and the window its passing fraction is computed over. */
export const UPTIME_CHECK_PERIOD_SECONDS = 60;
/** Probe timeout of an uptime check when the environment has no healthProbes block. */
export const DEFAULT_PROBE_TIMEOUT_SECONDS = 3;

/** Expands `{service}` and `{env}` in a channel template. */
export function expandChannel(template: string, service: string, env: string): string {
  return template.replaceAll('{service}', service).replaceAll('{env}', env);
}

/** The chat channels a service environment's alerts go to, deduplicated, in declaration order. */
export function alertChannels(
  service: string,
  env: string,
  options: Pick<AlertPoliciesOptions, 'channels' | 'sharedChannel'> = {},
): string[] {
  const templates = [...(options.channels ?? [DEFAULT_ALERT_CHANNEL])];
  if (options.sharedChannel !== undefined) templates.push(options.sharedChannel);
  return [...new Set(templates.map((t) => expandChannel(t, service, env)))];
}

/** Whether a standard policy exists for this service environment. */
export function isApplicable(
  definition: AlertPolicyDefinition,
  service: ServiceSpec,
  env: ServiceEnvironment,
): boolean {
  const rule = definition.applicability;
  if (!rule.kinds.includes(service.service.kind)) return false;
  if (rule.postgreSQL === true && env.resources.postgreSQL === undefined) return false;
  if (rule.domain === true && env.domain === undefined) return false;
  if (rule.minMaxCount !== undefined && env.instances.scaling.maxCount < rule.minMaxCount) return false;
  return true;
}

/** The threshold of a rule for this environment. */
export function resolveThreshold(rule: ThresholdRule, env: ServiceEnvironment): number {
  switch (rule.kind) {
    case 'fixed':
      return rule.value;
    case 'startup-interval':
      return env.healthProbes === undefined
        ? rule.fallbackSeconds
        : rule.multiplier * env.healthProbes.startupInterval;
    case 'max-count':
      return env.instances.scaling.maxCount - rule.offset;
  }
}

/** A kebab-case id part from a free-form name. */
export function slugify(name: string): string {
  const slug = name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug.length > 0 ? slug : 'alert';
}

function describeCodes(codes: {
  code?: number;
  codeClass?: string;
  excludeCodes: readonly number[];
}): string {
  const what = codes.code !== undefined ? `${codes.code}` : (codes.codeClass ?? 'any code');
  return codes.excludeCodes.length > 0 ? `${what} (excluding ${codes.excludeCodes.join(', ')})` : what;
}

function minutes(n: number): string {
  return n === 1 ? '1 minute' : `${n} minutes`;
}

/**
 * The alert policies of one service environment, thresholds resolved, standard ones first (catalog
 * order), then the spec's response-code ratios and custom alerts in declaration order.
 */
export function alertPoliciesFor(
  service: ServiceSpec,
  env: ServiceEnvironment,
  options: AlertPoliciesOptions = {},
): AlertPolicy[] {
  const serviceId = service.service.id;
  const runtime = options.runtime ?? 'local';
  const channels = alertChannels(serviceId, env.id, options);
  // "production" means category internal or external (REFERENCE §1). Not imported from @msp/spec at run
  // time: that would load the YAML parser and the schemas into every command, `msp --help` included.
  const production = env.category === 'internal' || env.category === 'external';
  const notify = (severity: AlertSeverity): AlertNotify => ({
    channels,
    page: severity === 'CRITICAL' && production && env.alerting.pager,
  });
  const common = { service: serviceId, environment: env.id } as const;
  const policies: AlertPolicy[] = [];

  for (const definition of STANDARD_ALERT_POLICIES) {
    if (!isApplicable(definition, service, env)) continue;
    const url = env.domain === undefined ? undefined : `https://${env.domain}/-/healthz`;
    policies.push({
      id: definition.id,
      title: runtime === 'gcp' ? definition.name : definition.localName,
      name: definition.name,
      localName: definition.localName,
      description: definition.description.replaceAll('{url}', url ?? '(no domain)'),
      severity: definition.severity,
      appliesTo: definition.appliesTo,
      source: 'standard',
      signal: definition.signal,
      unit: definition.unit,
      aggregation: definition.aggregation,
      comparison: definition.comparison,
      threshold: resolveThreshold(definition.threshold, env),
      windowSeconds: definition.windowSeconds,
      durationSeconds: definition.durationSeconds,
      ...common,
      notify: notify(definition.severity),
      ...(definition.appliesTo === 'uptime' && url !== undefined
        ? {
            uptimeCheck: {
              url,
              periodSeconds: UPTIME_CHECK_PERIOD_SECONDS,
              timeoutSeconds: env.healthProbes?.timeout ?? DEFAULT_PROBE_TIMEOUT_SECONDS,
            },
          }
        : {}),
    });
  }

  for (const ratio of service.monitoring.alerts.responseCodeRatios) {
    const codes = {
      ...(ratio.code !== undefined ? { code: ratio.code } : {}),
      ...(ratio.codeClass !== undefined ? { codeClass: ratio.codeClass } : {}),
      excludeCodes: ratio.excludeCodes,
    };
    policies.push({
      id: `response-code-ratio-${ratio.id}`,
      title: ratio.name,
      name: ratio.name,
      localName: ratio.name,
      description:
        ratio.description ??
        `The ratio of responses with code ${describeCodes(codes)} to all responses is above ${ratio.ratio} for ${minutes(ratio.durationMinutes)}.`,
      severity: 'WARNING',
      appliesTo: 'service',
      source: 'response-code-ratio',
      signal: `responses with code ${describeCodes(codes)} / all responses`,
      unit: 'ratio',
      aggregation: 'fraction',
      comparison: 'above',
      threshold: ratio.ratio,
      windowSeconds: 60,
      durationSeconds: ratio.durationMinutes * 60,
      ...common,
      notify: notify('WARNING'),
      responseCodes: codes,
    });
  }

  const customIds = new Map<string, number>();
  for (const custom of service.monitoring.alerts.customAlerts) {
    const base = `custom-${slugify(custom.name)}`;
    const seen = (customIds.get(base) ?? 0) + 1;
    customIds.set(base, seen);
    policies.push({
      id: seen === 1 ? base : `${base}-${seen}`,
      title: custom.name,
      name: custom.name,
      localName: custom.name,
      description: custom.description,
      severity: custom.severityLevel,
      appliesTo: 'service',
      source: 'custom',
      signal: `${custom.condition.type} query`,
      unit: 'count',
      aggregation: 'count',
      comparison: 'above',
      threshold: 0,
      windowSeconds: 60,
      durationSeconds: custom.condition.durationMinutes * 60,
      ...common,
      notify: notify(custom.severityLevel),
      query: { type: custom.condition.type, query: custom.condition.query },
    });
  }
  return policies;
}
