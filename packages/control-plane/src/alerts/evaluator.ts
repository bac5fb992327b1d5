/**
 * The rule engine's loop: every sample, each running deployment's policies (the standard catalog, the
 * spec's response-code ratios and custom alerts, backup health) are evaluated over their window of the
 * sampled signals (core's evaluateRule: inactive → pending → firing → resolved, keepFiringFor, NoData,
 * Error). A firing policy opens one incident per policy and deployment and notifies its channels unless a
 * silence matches (then the delivery is recorded as suppressed); a resolved one resolves it and says so.
 */
import {
  aggregate,
  alertPoliciesFor,
  backupHealthPolicies,
  DEFAULT_KEEP_FIRING_FOR_SECONDS,
  evaluateRule,
  INITIAL_MEMORY,
  scaledMs,
  type AlertPolicy,
  type DeploymentSpec,
  type RuleInput,
  type RuleMemory,
  type RuleTransition,
} from '@msp/core';
import type { AlertingConfig } from '@msp/spec';
import type { DeploymentRow, StateStore } from '../state/store.js';
import type { Notification } from './notify.js';
import { codeSignal, type SignalName } from './sampler.js';
import type { AlertStore, IncidentRow, SignalPoint, SilenceRow } from './store.js';

/** Which signal a standard policy reads. */
const SIGNAL_OF: Record<string, SignalName> = {
  'container-cpu': 'container_cpu',
  'container-memory': 'container_memory',
  'container-startup-latency': 'container_startup_seconds',
  'container-instance-count': 'instances_running',
  'pending-requests': 'pending_requests',
  'instance-precondition-failed': 'precondition_failed',
  'external-uptime-check': 'uptime',
  'cloudsql-memory': 'db_memory',
  'cloudsql-cpu': 'db_cpu',
  'cloudsql-server-availability': 'db_up',
  'cloudsql-disk': 'db_disk',
  'cloudsql-connections': 'db_connections',
  'cloudsql-sustained-lock-time': 'db_lock_wait_seconds',
  'cloudsql-lock-time-spike': 'db_lock_wait_seconds',
  'backup-base-age': 'backup_age_seconds',
  'backup-wal-age': 'wal_age_seconds',
  'backup-wal-stream-lag': 'wal_slot_lag_bytes',
};

const NO_CODES = { excludeCodes: [] } as const;

/**
 * The share of the responses since `since` that a response-code ratio counts, as the generated PromQL and
 * Cloud Monitoring filters do: those with `code`, else those of `codeClass`, else all, less those with an
 * excluded code; over all responses. Null when there were none.
 */
export function responseCodeRatio(
  window: Pick<SignalWindow, 'values'>,
  key: string,
  codes: NonNullable<AlertPolicy['responseCodes']>,
  since: number,
): number | null {
  const sum = (signal: string) => window.values(key, signal, since).reduce((a, b) => a + b, 0);
  const total = sum('responses_total');
  if (total === 0) return null;
  const excluded = new Set(codes.excludeCodes);
  const counted = (code: number) =>
    codes.code !== undefined
      ? code === codes.code
      : codes.codeClass === undefined || `${Math.floor(code / 100)}xx` === codes.codeClass;
  let matching =
    codes.code !== undefined
      ? sum(codeSignal(codes.code))
      : codes.codeClass !== undefined
        ? sum(`responses_${codes.codeClass}`)
        : total;
  for (const code of excluded) if (counted(code)) matching -= sum(codeSignal(code));
  return Math.max(0, matching) / total;
}

/** The sampled points of the last minutes, by deployment and signal (what the engine evaluates). */
export class SignalWindow {
  private readonly series = new Map<string, SignalPoint[]>();
  constructor(private readonly keepMs: () => number) {}
  add(points: readonly SignalPoint[], now: number): void {
    for (const p of points) {
      const k = `${p.deploymentKey}\0${p.signal}`;
      let list = this.series.get(k);
      if (!list) this.series.set(k, (list = []));
      list.push(p);
    }
    const cutoff = new Date(now - this.keepMs()).toISOString();
    for (const [k, list] of this.series) {
      const first = list.findIndex((p) => p.at >= cutoff);
      if (first === -1) this.series.delete(k);
      else if (first > 0) list.splice(0, first);
    }
  }
  values(key: string, signal: string, since: number): number[] {
    const cutoff = new Date(since).toISOString();
    return (this.series.get(`${key}\0${signal}`) ?? []).filter((p) => p.at >= cutoff).map((p) => p.value);
  }
}

const fmt = (v: number | null | undefined, unit: string) =>
  v === null || v === undefined
    ? 'no data'
    : unit === 'ratio'
      ? v.toFixed(3)
      : unit === 'seconds'
        ? `${v.toFixed(1)} s`
        : unit === 'bytes'
          ? `${(v / 1024 / 1024).toFixed(1)} MiB`
          : String(Math.round(v * 100) / 100);

export interface EvaluatorDeps {
  store: StateStore;
  alerts: AlertStore;
  window: SignalWindow;
  notify: (n: Notification, silence?: SilenceRow) => Promise<void>;
  links: (
    policy: AlertPolicy,
    incident: IncidentRow | undefined,
  ) => { handbook?: string; dashboard?: string };
  log: (line: string) => void;
}

export function silenceMatches(s: SilenceRow, policy: string, service: string, environment: string): boolean {
  const m = (pattern: string, value: string) => pattern === '*' || pattern === value;
  return m(s.policy, policy) && m(s.service, service) && m(s.environment, environment);
}

/** The policies of a deployment, resolved from its stored spec. */
export function policiesOf(row: DeploymentRow): AlertPolicy[] {
  const spec = row.spec as DeploymentSpec;
  if (!spec?.service || !spec.environment) return [];
  const options = {
    runtime: 'local' as const,
    channels: spec.envConfig.notifications?.channels ?? [],
  };
  const standard = alertPoliciesFor(spec.service, spec.environment, options);
  const channels = standard[0]?.notify.channels ?? [];
  return [
    ...standard,
    ...backupHealthPolicies(spec.service, spec.environment, {
      archiveTimeoutSeconds: spec.envConfig.backups?.archiveTimeoutSeconds ?? 60,
      channels,
    }),
  ];
}

export function createEvaluator(deps: EvaluatorDeps) {
  const memories = new Map<string, RuleMemory>();
  const policyCache = new Map<string, { hash: string; policies: AlertPolicy[] }>();
  let loaded = false;

  function inputOf(key: string, policy: AlertPolicy, config: AlertingConfig, now: number): RuleInput {
    const intervalMs = config.sampleIntervalSeconds * 1000;
    const windowMs = Math.max(scaledMs(policy.windowSeconds, config.timeScale), 1.5 * intervalMs);
    const since = now - windowMs;
    if (policy.source === 'custom') {
      return { error: `custom ${policy.query?.type ?? ''} queries are not evaluated on the local runtime` };
    }
    if (policy.source === 'response-code-ratio') {
      return { value: responseCodeRatio(deps.window, key, policy.responseCodes ?? NO_CODES, since) };
    }
    const signal = SIGNAL_OF[policy.id];
    if (!signal) return { error: `no signal measures ${policy.id} on the local runtime` };
    if (policy.id === 'external-uptime-check') {
      // One check per period: the window holds the last checks.
      const periodMs = scaledMs(policy.uptimeCheck?.periodSeconds ?? 60, config.timeScale);
      return {
        value: aggregate(
          'fraction',
          deps.window.values(key, signal, now - Math.max(windowMs, 2.5 * periodMs)),
        ),
      };
    }
    return { value: aggregate(policy.aggregation, deps.window.values(key, signal, since)) };
  }

  async function onTransition(
    row: DeploymentRow,
    policy: AlertPolicy,
    transition: RuleTransition,
    memory: RuleMemory,
    silences: readonly SilenceRow[],
  ): Promise<void> {
    const where = row.key;
    const valueText = `${fmt(memory.value, policy.unit)} (threshold: ${policy.comparison} ${fmt(policy.threshold, policy.unit)})`;
    const silence = silences.find((s) => silenceMatches(s, policy.id, policy.service, policy.environment));
    const base = (incident: IncidentRow, kind: 'fired' | 'resolved'): Notification => ({
      kind,
      severity: policy.severity,
      title: `${kind === 'fired' ? `[${policy.severity}] ` : '[RESOLVED] '}${policy.title} on ${where}`,
      text:
        kind === 'fired'
          ? `${policy.signal}: ${valueText}. Incident ${incident.id} (\`msp alerts ack ${incident.id}\`).\n\n${policy.description}`
          : `${policy.title} cleared on ${where}: ${valueText}. Incident ${incident.id} resolved.`,
      service: policy.service,
      environment: policy.environment,
      deploymentKey: row.key,
      incidentId: incident.id,
      policyId: policy.id,
      value: memory.value,
      threshold: policy.threshold,
      chatChannels: policy.notify.channels,
      page: policy.notify.page,
      links: deps.links(policy, incident),
      at: new Date().toISOString(),
    });
    if (transition === 'fired') {
      const incident = await deps.alerts.openIncident({
        deploymentKey: row.key,
        service: policy.service,
        environment: policy.environment,
        policyId: policy.id,
        title: policy.title,
        severity: policy.severity,
        summary: `${policy.title} on ${where}: ${valueText}`,
        value: memory.value,
        threshold: policy.threshold,
      });
      if (!incident) return; // one open already: no duplicate, no second message
      await deps.store.addEvent({
        deploymentKey: row.key,
        kind: 'alert-fired',
        message: incident.summary,
        data: { incident: incident.id },
      });
      await deps.notify(base(incident, 'fired'), silence);
    } else if (transition === 'resolved') {
      const incident = await deps.alerts.resolveIncident(row.key, policy.id, memory.value);
      if (!incident) return;
      await deps.store.addEvent({
        deploymentKey: row.key,
        kind: 'alert-resolved',
        message: `${policy.title} on ${where} resolved`,
        data: { incident: incident.id },
      });
      await deps.notify(base(incident, 'resolved'), silence);
    }
  }

  return {
    /** Evaluates every policy of `rows` at `now`. */
    async evaluate(rows: readonly DeploymentRow[], config: AlertingConfig, now: number): Promise<void> {
      if (!loaded) {
        for (const r of await deps.alerts.ruleStates()) memories.set(`${r.deploymentKey}\0${r.policyId}`, r);
        loaded = true;
      }
      const silences = await deps.alerts.listSilences();
      const keepFiringForMs = scaledMs(DEFAULT_KEEP_FIRING_FOR_SECONDS, config.timeScale);
      for (const row of rows) {
        let cached = policyCache.get(row.key);
        if (!cached || cached.hash !== row.specHash) {
          cached = { hash: row.specHash, policies: policiesOf(row) };
          policyCache.set(row.key, cached);
          await deps.alerts.deleteRuleStates(
            row.key,
            cached.policies.map((p) => p.id),
          );
        }
        for (const policy of cached.policies) {
          const k = `${row.key}\0${policy.id}`;
          const previous = memories.get(k) ?? INITIAL_MEMORY;
          const rule = {
            comparison: policy.comparison,
            threshold: policy.threshold,
            durationMs: scaledMs(policy.durationSeconds, config.timeScale),
            keepFiringForMs,
          };
          const { memory, transition } = evaluateRule(
            rule,
            inputOf(row.key, policy, config, now),
            previous,
            now,
          );
          memories.set(k, memory);
          try {
            if (memory.state !== previous.state || transition)
              await deps.alerts.saveRuleState(row.key, policy.id, memory);
            if (transition) await onTransition(row, policy, transition, memory, silences);
          } catch (error) {
            // Not recorded (the state database busy or away): the next round sees the transition again,
            // instead of a rule firing with no incident, which would never open one.
            memories.set(k, previous);
            throw error;
          }
          if (memory.state === 'firing' && memory.value !== null && !transition)
            await deps.alerts.touchIncident(row.key, policy.id, memory.value);
        }
      }
    },
    forget(key: string): void {
      for (const k of memories.keys()) if (k.startsWith(`${key}\0`)) memories.delete(k);
      policyCache.delete(key);
    },
  };
}
