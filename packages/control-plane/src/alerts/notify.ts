/**
 * Notifications: what a message says, which channels of msp.yaml get it (REFERENCE §2: WARNING to the
 * environment's chat channels, CRITICAL also to the pager, the pager only where the policy pages), the body
 * each kind of channel takes (Slack-compatible, signed JSON, PagerDuty Events v2), and their delivery as
 * durable pg-boss jobs that retry with backoff. Every delivery is a row (`msp alerts deliveries`): queued,
 * delivered, failed after its last retry, or suppressed by a silence; none is dropped silently.
 */
import { createHmac } from 'node:crypto';
import type PgBoss from 'pg-boss';
import type { AlertChannelConfig } from '@msp/spec';
import { ensureQueue } from '../operations/engine.js';
import type { Db } from '../state/db.js';
import type { StateStore } from '../state/store.js';
import { createAlertStore, type AlertStore, type DeliveryRow } from './store.js';

export const DELIVERY_QUEUE = 'msp-alerts-deliver';
/** Secrets of the alerts module (HMAC keys) live in the secret store under this scope. */
export const ALERT_SECRET_SCOPE = 'alerts';
export const SIGNATURE_HEADER = 'x-msp-signature';
export const TIMESTAMP_HEADER = 'x-msp-timestamp';
const SEND_TIMEOUT_MS = 10_000;

export type NotificationKind = 'fired' | 'resolved' | 'silence-ended' | 'event' | 'test';

export interface Notification {
  kind: NotificationKind;
  severity: 'WARNING' | 'CRITICAL';
  /** One line: what happened, where. */
  title: string;
  /** Markdown: the value against the threshold, the policy's description. */
  text: string;
  service?: string;
  environment?: string;
  deploymentKey?: string;
  incidentId?: string;
  policyId?: string;
  value?: number | null;
  threshold?: number;
  /** The chat channel names (`#alerts-svc-env`, the shared one) the policy names. */
  chatChannels: readonly string[];
  /** Whether the owners are paged (CRITICAL in production, pager on). */
  page: boolean;
  links: { handbook?: string; dashboard?: string };
  at: string;
}

/** The configured channels a notification goes to. */
export function routeNotification(
  n: Notification,
  channels: readonly AlertChannelConfig[],
): AlertChannelConfig[] {
  return channels.filter((c) => {
    if (
      n.environment !== undefined &&
      c.environments !== undefined &&
      !c.environments.includes(n.environment)
    )
      return false;
    if (c.type === 'pager')
      return n.page && (n.kind === 'fired' || n.kind === 'resolved' || n.kind === 'test');
    return true;
  });
}

/** The JSON body a channel of this type takes. */
export function bodyFor(type: AlertChannelConfig['type'], n: Notification): Record<string, unknown> {
  const links = [
    ...(n.links.handbook ? [{ href: n.links.handbook, text: 'Handbook' }] : []),
    ...(n.links.dashboard ? [{ href: n.links.dashboard, text: 'Dashboard' }] : []),
  ];
  if (type === 'slack') {
    const icon =
      n.kind === 'resolved'
        ? ':white_check_mark:'
        : n.severity === 'CRITICAL'
          ? ':rotating_light:'
          : ':warning:';
    const linkText = links.map((l) => `<${l.href}|${l.text}>`).join(' · ');
    return {
      ...(n.chatChannels[0] ? { channel: n.chatChannels[0] } : {}),
      text: `${icon} *${n.title}*\n${n.text}${linkText ? `\n${linkText}` : ''}`,
    };
  }
  if (type === 'pager') {
    return {
      event_action: n.kind === 'resolved' ? 'resolve' : 'trigger',
      dedup_key: n.incidentId ?? `${n.kind}-${n.at}`,
      payload: {
        summary: n.title,
        source: n.deploymentKey ?? 'msp',
        severity: n.severity === 'CRITICAL' ? 'critical' : 'warning',
        timestamp: n.at,
        ...(n.service ? { component: n.service } : {}),
        ...(n.environment ? { group: n.environment } : {}),
        class: n.policyId ?? n.kind,
        custom_details: { text: n.text, value: n.value ?? null, threshold: n.threshold ?? null },
      },
      links,
    };
  }
  return { ...n, links };
}

/** `sha256=<hex>` of `<timestamp>.<body>` keyed with the channel's secret: what a receiver recomputes. */
export function signBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface Deliverer {
  /** Records a delivery per routed channel and queues it (or records it suppressed by `silenceId`). */
  notify(
    n: Notification,
    channels: readonly AlertChannelConfig[],
    silenceId?: string,
  ): Promise<DeliveryRow[]>;
  start(): Promise<void>;
}

export function createDeliverer(deps: {
  boss: PgBoss;
  /** The delivery's row and its job are written in one transaction: neither exists without the other. */
  db: Db;
  alerts: AlertStore;
  store: StateStore;
  channels: () => Promise<readonly AlertChannelConfig[]>;
  retry: () => Promise<{ limit: number; delaySeconds: number }>;
  log: (line: string) => void;
}): Deliverer {
  const { boss, alerts } = deps;

  async function send(d: DeliveryRow): Promise<void> {
    const channel = (await deps.channels()).find((c) => c.name === d.channel);
    if (!channel) throw new Error(`channel ${d.channel} is no longer in msp.yaml (alerting.channels)`);
    const body = JSON.stringify(d.payload);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'msp-alerts',
    };
    if (channel.type === 'webhook') {
      const secret = channel.secret
        ? await deps.store.getSecret(ALERT_SECRET_SCOPE, channel.secret)
        : undefined;
      if (secret === undefined) {
        throw new Error(
          `the HMAC secret ${channel.secret ?? '(none)'} of channel ${channel.name} is not in the secret store: set it with \`msp alerts secret set ${channel.secret ?? '<name>'}\``,
        );
      }
      const timestamp = String(Math.floor(Date.now() / 1000));
      headers[TIMESTAMP_HEADER] = timestamp;
      headers[SIGNATURE_HEADER] = signBody(secret, timestamp, body);
    }
    const res = await fetch(channel.url, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok)
      throw new Error(`${channel.url.replace(/\?.*$/, '')} answered ${res.status} ${res.statusText}`);
  }

  return {
    async notify(n, all, silenceId) {
      const rows: DeliveryRow[] = [];
      const retry = await deps.retry();
      for (const channel of routeNotification(n, all)) {
        const row = await deps.db.transaction(async (tx) => {
          const added = await createAlertStore(tx).addDelivery({
            channel: channel.name,
            channelType: channel.type,
            kind: n.kind,
            incidentId: n.incidentId ?? null,
            silenceId: silenceId ?? null,
            deploymentKey: n.deploymentKey ?? null,
            status: silenceId ? 'suppressed' : 'queued',
            payload: bodyFor(channel.type, n),
          });
          if (!silenceId) {
            await boss.send(
              DELIVERY_QUEUE,
              { id: added.id },
              {
                retryLimit: retry.limit,
                retryDelay: retry.delaySeconds,
                retryBackoff: true,
                db: { executeSql: (text, values) => tx.query(text, values) },
              },
            );
          }
          return added;
        });
        rows.push(row);
      }
      return rows;
    },
    async start() {
      await ensureQueue(boss, DELIVERY_QUEUE);
      await boss.work<{ id: string }>(
        DELIVERY_QUEUE,
        { pollingIntervalSeconds: 0.5, includeMetadata: true },
        async (jobs) => {
          for (const job of jobs) {
            const d = await alerts.getDelivery(job.data.id);
            if (!d || d.status !== 'queued') continue;
            try {
              await send(d);
              await alerts.recordAttempt(d.id, { ok: true });
            } catch (error) {
              const final = job.retryCount >= job.retryLimit;
              const message = (error as Error).message;
              await alerts.recordAttempt(d.id, { ok: false, error: message, final });
              if (final) deps.log(`alerts: delivery ${d.id} to ${d.channel} failed for good: ${message}`);
              throw error;
            }
          }
        },
      );
    },
  };
}
