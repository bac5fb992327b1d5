// Over 400 lines: every SQL statement of the alerts module in one place, as the other stores keep theirs.
/** The alerts module's tables (migrations/): signals, rule states, incidents, silences, deliveries. All SQL lives here. */
import { randomBytes } from 'node:crypto';
import type { RuleMemory, RuleState } from '@msp/core';
import type { Db } from '../state/db.js';
import { migrationsBeside, type MigrationSet } from '../state/migrate.js';

export const ALERT_MIGRATIONS: MigrationSet = { module: 'alerts', folder: migrationsBeside(import.meta.url) };

export interface SignalPoint {
  at: string;
  deploymentKey: string;
  signal: string;
  instance: string;
  value: number;
}

export interface IncidentRow {
  id: string;
  deploymentKey: string;
  service: string;
  environment: string;
  policyId: string;
  title: string;
  severity: 'WARNING' | 'CRITICAL';
  status: 'open' | 'resolved' | 'closed';
  summary: string;
  value: number | null;
  threshold: number;
  openedAt: string;
  resolvedAt: string | null;
  closedReason: string | null;
  ackedAt: string | null;
  ackedBy: string | null;
  lastDataAt: string;
}

export interface SilenceRow {
  id: string;
  policy: string;
  service: string;
  environment: string;
  reason: string;
  createdBy: string;
  createdAt: string;
  endsAt: string;
  expiredAt: string | null;
  announcedAt: string | null;
}

export type DeliveryStatus = 'queued' | 'delivered' | 'failed' | 'suppressed';

export interface DeliveryRow {
  id: string;
  channel: string;
  channelType: string;
  kind: string;
  incidentId: string | null;
  silenceId: string | null;
  deploymentKey: string | null;
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  payload: Record<string, unknown>;
  createdAt: string;
  deliveredAt: string | null;
}

export interface RuleStateRow extends RuleMemory {
  deploymentKey: string;
  policyId: string;
}

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const ms = (v: unknown): number | undefined =>
  v === null || v === undefined ? undefined : (v as Date).getTime();

/** A short id with a prefix: `inc-3f9a1c2b`. */
export const newId = (prefix: string) => `${prefix}-${randomBytes(5).toString('hex')}`;

function toIncident(r: Record<string, unknown>): IncidentRow {
  return {
    id: r.id as string,
    deploymentKey: r.deployment_key as string,
    service: r.service as string,
    environment: r.environment as string,
    policyId: r.policy_id as string,
    title: r.title as string,
    severity: r.severity as IncidentRow['severity'],
    status: r.status as IncidentRow['status'],
    summary: r.summary as string,
    value: numOrNull(r.value),
    threshold: Number(r.threshold),
    openedAt: iso(r.opened_at),
    resolvedAt: isoOrNull(r.resolved_at),
    closedReason: (r.closed_reason as string | null) ?? null,
    ackedAt: isoOrNull(r.acked_at),
    ackedBy: (r.acked_by as string | null) ?? null,
    lastDataAt: iso(r.last_data_at),
  };
}

function toSilence(r: Record<string, unknown>): SilenceRow {
  return {
    id: r.id as string,
    policy: r.policy as string,
    service: r.service as string,
    environment: r.environment as string,
    reason: r.reason as string,
    createdBy: r.created_by as string,
    createdAt: iso(r.created_at),
    endsAt: iso(r.ends_at),
    expiredAt: isoOrNull(r.expired_at),
    announcedAt: isoOrNull(r.announced_at),
  };
}

function toDelivery(r: Record<string, unknown>): DeliveryRow {
  return {
    id: r.id as string,
    channel: r.channel as string,
    channelType: r.channel_type as string,
    kind: r.kind as string,
    incidentId: (r.incident_id as string | null) ?? null,
    silenceId: (r.silence_id as string | null) ?? null,
    deploymentKey: (r.deployment_key as string | null) ?? null,
    status: r.status as DeliveryStatus,
    attempts: Number(r.attempts),
    lastError: (r.last_error as string | null) ?? null,
    payload: r.payload as Record<string, unknown>,
    createdAt: iso(r.created_at),
    deliveredAt: isoOrNull(r.delivered_at),
  };
}

export function createAlertStore(db: Db) {
  const rows = async (sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows;
  return {
    // ---- signals
    async insertSignals(points: readonly SignalPoint[]): Promise<void> {
      if (points.length === 0) return;
      await db.query(
        `insert into alert_signals (at, deployment_key, signal, instance, value)
         select * from unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::float8[])`,
        [
          points.map((p) => p.at),
          points.map((p) => p.deploymentKey),
          points.map((p) => p.signal),
          points.map((p) => p.instance),
          points.map((p) => p.value),
        ],
      );
    },
    async pruneSignals(before: Date): Promise<number> {
      return (await db.query('delete from alert_signals where at < $1', [before])).rowCount;
    },
    async querySignals(q: {
      deployment?: string;
      signal?: string;
      since: Date;
      until?: Date;
      limit: number;
    }): Promise<SignalPoint[]> {
      const r = await rows(
        `select at, deployment_key, signal, instance, value from alert_signals
          where at >= $1 and ($2::timestamptz is null or at <= $2)
            and ($3::text is null or deployment_key = $3) and ($4::text is null or signal = $4)
          order by at desc limit $5`,
        [q.since, q.until ?? null, q.deployment ?? null, q.signal ?? null, q.limit],
      );
      return r.map((x) => ({
        at: iso(x.at),
        deploymentKey: x.deployment_key as string,
        signal: x.signal as string,
        instance: x.instance as string,
        value: Number(x.value),
      }));
    },
    // ---- rule states
    async ruleStates(): Promise<RuleStateRow[]> {
      return (await rows('select * from alert_rule_states')).map((r) => ({
        deploymentKey: r.deployment_key as string,
        policyId: r.policy_id as string,
        state: r.state as RuleState,
        since: ms(r.since)!,
        ...(r.active_since ? { activeSince: ms(r.active_since) } : {}),
        ...(r.last_active_at ? { lastActiveAt: ms(r.last_active_at) } : {}),
        value: numOrNull(r.value),
        ...(r.error ? { error: r.error as string } : {}),
      }));
    },
    async saveRuleState(key: string, policyId: string, m: RuleMemory): Promise<void> {
      const d = (t: number | undefined) => (t === undefined ? null : new Date(t));
      await db.query(
        `insert into alert_rule_states (deployment_key, policy_id, state, since, active_since, last_active_at, value, error, evaluated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, now())
         on conflict (deployment_key, policy_id) do update set state = $3, since = $4, active_since = $5,
           last_active_at = $6, value = $7, error = $8, evaluated_at = now()`,
        [
          key,
          policyId,
          m.state,
          new Date(m.since),
          d(m.activeSince),
          d(m.lastActiveAt),
          m.value,
          m.error ?? null,
        ],
      );
    },
    async ruleStatesOf(
      key: string,
    ): Promise<
      Array<{ policyId: string; state: string; value: number | null; error: string | null; since: string }>
    > {
      return (
        await rows('select * from alert_rule_states where deployment_key = $1 order by policy_id', [key])
      ).map((r) => ({
        policyId: r.policy_id as string,
        state: r.state as string,
        value: numOrNull(r.value),
        error: (r.error as string | null) ?? null,
        since: iso(r.since),
      }));
    },
    async deleteRuleStates(key: string, keep: readonly string[]): Promise<void> {
      await db.query(
        'delete from alert_rule_states where deployment_key = $1 and not (policy_id = any($2))',
        [key, keep],
      );
    },
    // ---- incidents
    /** Opens an incident unless one is open for the policy and deployment: undefined then. */
    async openIncident(
      i: Omit<
        IncidentRow,
        'id' | 'status' | 'openedAt' | 'resolvedAt' | 'closedReason' | 'ackedAt' | 'ackedBy' | 'lastDataAt'
      >,
    ): Promise<IncidentRow | undefined> {
      const [r] = await rows(
        `insert into alert_incidents (id, deployment_key, service, environment, policy_id, title, severity, status, summary, value, threshold)
         values ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10)
         on conflict (deployment_key, policy_id) where status = 'open' do nothing returning *`,
        [
          newId('inc'),
          i.deploymentKey,
          i.service,
          i.environment,
          i.policyId,
          i.title,
          i.severity,
          i.summary,
          i.value,
          i.threshold,
        ],
      );
      return r ? toIncident(r) : undefined;
    },
    async openIncidentOf(key: string, policyId: string): Promise<IncidentRow | undefined> {
      const [r] = await rows(
        `select * from alert_incidents where deployment_key = $1 and policy_id = $2 and status = 'open'`,
        [key, policyId],
      );
      return r ? toIncident(r) : undefined;
    },
    /** Resolves the open incident of the policy and deployment; undefined when none was open. */
    async resolveIncident(
      key: string,
      policyId: string,
      value: number | null,
    ): Promise<IncidentRow | undefined> {
      const [r] = await rows(
        `update alert_incidents set status = 'resolved', resolved_at = now(), value = coalesce($3, value)
          where deployment_key = $1 and policy_id = $2 and status = 'open' returning *`,
        [key, policyId, value],
      );
      return r ? toIncident(r) : undefined;
    },
    async touchIncident(key: string, policyId: string, value: number): Promise<void> {
      await db.query(
        `update alert_incidents set last_data_at = now(), value = $3 where deployment_key = $1 and policy_id = $2 and status = 'open'`,
        [key, policyId, value],
      );
    },
    /** Closes open incidents without data since `before` (the 24 h auto-close). */
    async closeStale(before: Date): Promise<IncidentRow[]> {
      return (
        await rows(
          `update alert_incidents set status = 'closed', resolved_at = now(), closed_reason = 'no data for 24 hours'
            where status = 'open' and last_data_at < $1 returning *`,
          [before],
        )
      ).map(toIncident);
    },
    /** Closes the open incidents of deployments stopped on purpose (nothing of them is watched). */
    async closeForStopped(keys: readonly string[]): Promise<IncidentRow[]> {
      if (keys.length === 0) return [];
      return (
        await rows(
          `update alert_incidents set status = 'closed', resolved_at = now(), closed_reason = 'the deployment was stopped'
            where status = 'open' and deployment_key = any($1) returning *`,
          [keys],
        )
      ).map(toIncident);
    },
    async listIncidents(
      q: { all?: boolean; deployment?: string; limit?: number } = {},
    ): Promise<IncidentRow[]> {
      return (
        await rows(
          `select * from alert_incidents where ($1::boolean or status = 'open') and ($2::text is null or deployment_key = $2)
            order by opened_at desc limit $3`,
          [q.all ?? false, q.deployment ?? null, q.limit ?? 200],
        )
      ).map(toIncident);
    },
    async getIncident(id: string): Promise<IncidentRow | undefined> {
      const [r] = await rows('select * from alert_incidents where id = $1', [id]);
      return r ? toIncident(r) : undefined;
    },
    async ackIncident(id: string, by: string): Promise<IncidentRow | undefined> {
      const [r] = await rows(
        'update alert_incidents set acked_at = coalesce(acked_at, now()), acked_by = coalesce(acked_by, $2) where id = $1 returning *',
        [id, by],
      );
      return r ? toIncident(r) : undefined;
    },
    // ---- silences
    async createSilence(
      s: Pick<SilenceRow, 'policy' | 'service' | 'environment' | 'reason' | 'createdBy'> & { endsAt: Date },
    ): Promise<SilenceRow> {
      const [r] = await rows(
        `insert into alert_silences (id, policy, service, environment, reason, created_by, ends_at)
         values ($1, $2, $3, $4, $5, $6, $7) returning *`,
        [newId('sil'), s.policy, s.service, s.environment, s.reason, s.createdBy, s.endsAt],
      );
      return toSilence(r!);
    },
    async listSilences(q: { all?: boolean } = {}): Promise<SilenceRow[]> {
      return (
        await rows(
          `select * from alert_silences where $1::boolean or (expired_at is null and ends_at > now()) order by created_at desc limit 200`,
          [q.all ?? false],
        )
      ).map(toSilence);
    },
    async getSilence(id: string): Promise<SilenceRow | undefined> {
      const [r] = await rows('select * from alert_silences where id = $1', [id]);
      return r ? toSilence(r) : undefined;
    },
    /** Ends a silence now (its end is announced like an expiry's). */
    async expireSilence(id: string): Promise<SilenceRow | undefined> {
      const [r] = await rows(
        `update alert_silences set expired_at = coalesce(expired_at, now()), ends_at = least(ends_at, now()) where id = $1 returning *`,
        [id],
      );
      return r ? toSilence(r) : undefined;
    },
    /** Silences that ended and were not announced yet, claimed (each is returned once, ever). */
    async claimEndedSilences(): Promise<SilenceRow[]> {
      return (
        await rows(
          `update alert_silences set announced_at = now(), expired_at = coalesce(expired_at, ends_at)
            where announced_at is null and ends_at <= now() returning *`,
        )
      ).map(toSilence);
    },
    // ---- deliveries
    async addDelivery(
      d: Omit<DeliveryRow, 'id' | 'attempts' | 'lastError' | 'createdAt' | 'deliveredAt'>,
    ): Promise<DeliveryRow> {
      const [r] = await rows(
        `insert into alert_deliveries (id, channel, channel_type, kind, incident_id, silence_id, deployment_key, status, payload)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning *`,
        [
          newId('dlv'),
          d.channel,
          d.channelType,
          d.kind,
          d.incidentId,
          d.silenceId,
          d.deploymentKey,
          d.status,
          d.payload,
        ],
      );
      return toDelivery(r!);
    },
    async getDelivery(id: string): Promise<DeliveryRow | undefined> {
      const [r] = await rows('select * from alert_deliveries where id = $1', [id]);
      return r ? toDelivery(r) : undefined;
    },
    async recordAttempt(
      id: string,
      outcome: { ok: true } | { ok: false; error: string; final: boolean },
    ): Promise<void> {
      if (outcome.ok) {
        await db.query(
          `update alert_deliveries set attempts = attempts + 1, status = 'delivered', delivered_at = now(), updated_at = now() where id = $1`,
          [id],
        );
      } else {
        await db.query(
          `update alert_deliveries set attempts = attempts + 1, last_error = $2, updated_at = now(),
             status = case when $3 then 'failed' else status end where id = $1`,
          [id, outcome.error, outcome.final],
        );
      }
    },
    async listDeliveries(
      q: { status?: DeliveryStatus; incident?: string; limit?: number } = {},
    ): Promise<DeliveryRow[]> {
      return (
        await rows(
          `select * from alert_deliveries where ($1::text is null or status = $1) and ($2::text is null or incident_id = $2)
            order by created_at desc limit $3`,
          [q.status ?? null, q.incident ?? null, q.limit ?? 100],
        )
      ).map(toDelivery);
    },
    async suppressedDuring(silenceId: string): Promise<DeliveryRow[]> {
      return (
        await rows(
          `select * from alert_deliveries where silence_id = $1 and status = 'suppressed' order by created_at`,
          [silenceId],
        )
      ).map(toDelivery);
    },
    // ---- event forwarding
    async eventCursor(): Promise<number | undefined> {
      const [r] = await rows('select last_event_id from alert_event_cursor where id = 1');
      return r ? Number(r.last_event_id) : undefined;
    },
    async setEventCursor(id: number): Promise<void> {
      await db.query(
        'insert into alert_event_cursor (id, last_event_id) values (1, $1) on conflict (id) do update set last_event_id = $1',
        [id],
      );
    },
  };
}

export type AlertStore = ReturnType<typeof createAlertStore>;
