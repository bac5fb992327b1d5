/**
 * The alerts module's background loops: the sampler (then the rule engine, silence announcements and the
 * forwarding of rollout, fleet, instance and break-glass events) every sampling interval, the uptime checks
 * every period, and the 24 h pruning of signals and auto-close of incidents without data. Each loop runs
 * one round at a time (the next is scheduled when one ends).
 */
import { scaledMs } from '@msp/core';
import type { DeploymentRow } from '../state/store.js';
import type { FeatureContext } from '../server.js';
import { createBackupStore } from '../backups/index.js';
import type { AlertingSource } from './config.js';
import type { createEvaluator, SignalWindow } from './evaluator.js';
import type { Deliverer, Notification } from './notify.js';
import { newSamplerMemory, pointsOf, type signalGauges } from './sampler.js';
import type { AlertStore, SignalPoint } from './store.js';
import { runUptimeChecks } from './uptime.js';

const DAY_MS = 86_400_000;
const FORWARDED = `kind like 'rollout-%' or kind like 'fleet-%' or kind like 'instance-%' or kind = 'access-break-glass'`;

export interface MonitorDeps {
  ctx: FeatureContext;
  alerts: AlertStore;
  config: AlertingSource;
  window: SignalWindow;
  evaluator: ReturnType<typeof createEvaluator>;
  deliverer: Deliverer;
  gauges: ReturnType<typeof signalGauges>;
}

export function createMonitor(deps: MonitorDeps) {
  const { ctx, alerts } = deps;
  const memory = newSamplerMemory();
  const backups = createBackupStore(ctx.db);
  const backupCache = new Map<string, { at: number; finishedAt: string | undefined }>();
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let lastPrune = 0;

  const running = async (): Promise<DeploymentRow[]> =>
    (await ctx.store.listDeployments()).filter((d) => d.desiredState === 'running');

  /** Deployments stopped on purpose: their rules are forgotten and their open incidents closed. */
  async function closeStopped(): Promise<void> {
    const stopped = (await ctx.store.listDeployments())
      .filter((d) => d.desiredState !== 'running')
      .map((d) => d.key);
    for (const key of stopped) deps.evaluator.forget(key);
    for (const i of await alerts.closeForStopped(stopped)) {
      await ctx.store.addEvent({
        deploymentKey: i.deploymentKey,
        kind: 'alert-closed',
        message: `${i.title}: incident ${i.id} closed, the deployment was stopped`,
      });
    }
  }

  async function lastGoodBackup(key: string, now: number): Promise<string | undefined> {
    const cached = backupCache.get(key);
    if (cached && now - cached.at < 60_000) return cached.finishedAt;
    const good = (await backups.list(key).catch(() => []))
      .filter((b) => b.type === 'base' && b.status === 'succeeded' && !b.verifyFailed && b.finishedAt)
      .map((b) => b.finishedAt!)
      .sort()
      .at(-1);
    backupCache.set(key, { at: now, finishedAt: good });
    return good;
  }

  async function record(points: SignalPoint[], now: number): Promise<void> {
    await alerts.insertSignals(points);
    deps.window.add(points, now);
  }

  async function sampleOnce(): Promise<void> {
    const config = await deps.config.current();
    const now = Date.now();
    const rows = await running();
    const all: SignalPoint[] = [];
    for (const row of rows) {
      const target = await ctx.targets.of(row.key).catch(() => undefined);
      const signals = await target?.signals?.(row.key).catch(() => undefined);
      if (!signals) continue;
      const points = pointsOf(row, signals, memory, now, await lastGoodBackup(row.key, now));
      deps.gauges(row, points);
      all.push(...points);
    }
    await record(all, now);
    await deps.evaluator.evaluate(rows, config, now);
    await announceEndedSilences();
    await forwardEvents();
    if (now - lastPrune > 60_000) {
      lastPrune = now;
      await closeStopped();
      await alerts.pruneSignals(new Date(now - DAY_MS));
      for (const i of await alerts.closeStale(new Date(now - scaledMs(86_400, config.timeScale)))) {
        await ctx.store.addEvent({
          deploymentKey: i.deploymentKey,
          kind: 'alert-closed',
          message: `${i.title}: incident ${i.id} closed after 24 h without data`,
        });
      }
    }
  }

  async function uptimeOnce(): Promise<void> {
    const now = Date.now();
    await record(
      await runUptimeChecks(await running(), ctx.runtime.proxyUrl(), now, (key) =>
        ctx.store.getSecret(key, 'diagnostics'),
      ),
      now,
    );
  }

  async function announceEndedSilences(): Promise<void> {
    const ended = await alerts.claimEndedSilences();
    if (ended.length === 0) return;
    const channels = (await deps.config.current()).channels;
    for (const s of ended) {
      const suppressed = await alerts.suppressedDuring(s.id);
      const fired = new Map<string, string>();
      for (const d of suppressed) {
        if (d.kind !== 'fired') continue;
        const title =
          (d.payload.title as string | undefined) ?? (d.payload.payload as { summary?: string })?.summary;
        fired.set(d.incidentId ?? d.id, `${title ?? d.kind} (${d.createdAt})`);
      }
      const meanwhile =
        fired.size === 0
          ? 'Nothing fired meanwhile.'
          : `Fired meanwhile:\n${[...fired.values()].map((t) => `- ${t}`).join('\n')}`;
      const n: Notification = {
        kind: 'silence-ended',
        severity: 'WARNING',
        title: `Silence ${s.id} ended (policy ${s.policy}, service ${s.service}, environment ${s.environment})`,
        text: `Silenced by ${s.createdBy}: ${s.reason}\n\n${meanwhile}`,
        ...(s.service !== '*' ? { service: s.service } : {}),
        ...(s.environment !== '*' ? { environment: s.environment } : {}),
        chatChannels: [],
        page: false,
        links: {},
        at: new Date().toISOString(),
      };
      await deps.deliverer.notify(n, channels);
    }
  }

  async function forwardEvents(): Promise<void> {
    const cursor = await alerts.eventCursor();
    const [{ max }] = (await ctx.db.query<{ max: string | null }>('select max(id) as max from events'))
      .rows as [{ max: string | null }];
    const top = Number(max ?? 0);
    if (cursor === undefined) {
      // The first run starts from now: history is not sent again.
      await alerts.setEventCursor(top);
      return;
    }
    if (top <= cursor) return;
    const events = (
      await ctx.db.query<{
        id: string;
        at: Date;
        deployment_key: string | null;
        kind: string;
        message: string;
      }>(
        `select id, at, deployment_key, kind, message from events where id > $1 and id <= $2 and (${FORWARDED}) order by id`,
        [cursor, top],
      )
    ).rows;
    await alerts.setEventCursor(top);
    if (events.length === 0) return;
    const channels = (await deps.config.current()).channels;
    for (const e of events) {
      const [service, environment] = (e.deployment_key ?? '').split('/');
      await deps.deliverer.notify(
        {
          kind: 'event',
          severity: 'WARNING',
          title: `${e.kind}${e.deployment_key ? ` on ${e.deployment_key}` : ''}`,
          text: e.message,
          ...(service ? { service } : {}),
          ...(environment ? { environment } : {}),
          ...(e.deployment_key ? { deploymentKey: e.deployment_key } : {}),
          chatChannels: [],
          page: false,
          links: {},
          at: e.at.toISOString(),
        },
        channels,
      );
    }
  }

  function loop(name: string, every: () => Promise<number>, fn: () => Promise<void>): void {
    const tick = async () => {
      if (stopped) return;
      const round = fn().catch((error: unknown) => {
        if (!stopped) ctx.log(`alerts: ${name}: ${(error as Error).message}`);
      });
      inFlight.add(round);
      await round;
      inFlight.delete(round);
      if (stopped) return;
      const t = setTimeout(
        () => {
          timers.delete(t);
          void tick();
        },
        await every().catch(() => 10_000),
      );
      timers.add(t);
    };
    void tick();
  }

  return {
    start(): void {
      loop('sampler', async () => (await deps.config.current()).sampleIntervalSeconds * 1000, sampleOnce);
      loop(
        'uptime checks',
        async () => Math.max(200, scaledMs(60, (await deps.config.current()).timeScale)),
        uptimeOnce,
      );
    },
    announce: announceEndedSilences,
    async stop(): Promise<void> {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.all(inFlight);
    },
  };
}
