/**
 * The alerts feature: signals sampled from the runtime every 10 s (kept 24 h), the whole alert catalog
 * evaluated per deployment by a real rule engine, uptime checks through the proxy, incidents, silences that
 * announce their end, and notifications delivered as durable, retried jobs. See docs/alerts.md.
 */
import { scaledMs, type AlertPolicy } from '@msp/core';
import type { AlertingConfig } from '@msp/spec';
import type { FeatureContext, FeatureModule } from '../server.js';
import { alertingSource } from './config.js';
import { createEvaluator, SignalWindow } from './evaluator.js';
import { createMonitor } from './monitor.js';
import { createDeliverer } from './notify.js';
import { alertApiRoutes } from './routes.js';
import { signalGauges } from './sampler.js';
import { ALERT_MIGRATIONS, createAlertStore, type IncidentRow } from './store.js';

export interface AlertsModuleOptions {
  /** Overrides of msp.yaml's `alerting` section (tests). */
  config?: Partial<AlertingConfig>;
  /** Run the sampler and the uptime checks (default true). */
  loops?: boolean;
}

/** The longest window kept in memory for evaluation: the longest policy window (300 s), plus slack. */
const KEEP_SECONDS = 600;

export function createAlertsModule(options: AlertsModuleOptions = {}): FeatureModule {
  return {
    name: 'alerts',
    migrations: ALERT_MIGRATIONS,
    async setup(ctx: FeatureContext) {
      const alerts = createAlertStore(ctx.db);
      const config = alertingSource(ctx.repoDir, options.config);
      let current = await config.current();
      const deliverer = createDeliverer({
        boss: ctx.boss,
        db: ctx.db,
        alerts,
        store: ctx.store,
        channels: async () => (await config.current()).channels,
        retry: async () => {
          current = await config.current();
          return { limit: 8, delaySeconds: Math.max(1, Math.round(30 * current.timeScale)) };
        },
        log: ctx.log,
      });
      const window = new SignalWindow(() =>
        Math.max(scaledMs(KEEP_SECONDS, current.timeScale), 10 * current.sampleIntervalSeconds * 1000),
      );
      const links = (policy: AlertPolicy, incident: IncidentRow | undefined) => ({
        handbook: `${current.handbookUrl ?? 'handbook'}/${policy.service}.md#alert-policies`,
        ...(current.dashboardUrl && incident
          ? { dashboard: `${current.dashboardUrl.replace(/\/$/, '')}/incidents/${incident.id}` }
          : {}),
      });
      const evaluator = createEvaluator({
        store: ctx.store,
        alerts,
        window,
        notify: async (n, silence) => {
          await deliverer.notify(n, (await config.current()).channels, silence?.id);
        },
        links,
        log: ctx.log,
      });
      const monitor = createMonitor({
        ctx,
        alerts,
        config,
        window,
        evaluator,
        deliverer,
        gauges: signalGauges(ctx.metrics),
      });
      return {
        routes: [
          (api) =>
            alertApiRoutes(api, { store: ctx.store, alerts, deliverer, config, announce: monitor.announce }),
        ],
        start: async () => {
          await deliverer.start();
          if (options.loops !== false) monitor.start();
        },
        stop: () => monitor.stop(),
      };
    },
  };
}
