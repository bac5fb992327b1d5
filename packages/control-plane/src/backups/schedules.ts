/**
 * The backups' schedules (pg-boss cron): a base backup per distinct `baseBackupCron` of msp.yaml, the daily
 * retention run and the daily restore drill, each queueing an operation per eligible deployment.
 */
import { createHash } from 'node:crypto';
import type { DeploymentSpec } from '@msp/core';
import { ensureQueue } from '../operations/engine.js';
import type { FeatureContext } from '../server.js';
import type { BackupsModuleOptions } from './module.js';

const RETENTION_QUEUE = 'msp-backups-retention';
const DRILL_QUEUE = 'msp-backups-drill';
const cronQueue = (cron: string) =>
  `msp-backups-base-${createHash('sha256').update(cron).digest('hex').slice(0, 12)}`;
const workedQueues = new WeakMap<FeatureContext, Set<string>>();

async function eligible(ctx: FeatureContext): Promise<Array<{ key: string; spec: DeploymentSpec }>> {
  return (await ctx.store.listDeployments())
    .filter((d) => d.desiredState === 'running' && d.managedBy === 'repo')
    .map((d) => ({ key: d.key, spec: d.spec as DeploymentSpec }))
    .filter(
      (d) =>
        d.spec.environment.resources?.postgreSQL || (d.spec.environment.resources?.volumes ?? []).length > 0,
    );
}

async function enqueueEach(
  ctx: FeatureContext,
  keys: string[],
  kind: string,
  reason: string,
  input: Record<string, unknown> = {},
) {
  for (const key of keys) {
    try {
      await ctx.engine.enqueue({ kind, deploymentKey: key, reason, createdBy: 'scheduler', input });
    } catch (error) {
      ctx.log(`backups: ${kind} of ${key} not queued: ${(error as Error).message}`);
      await ctx.store.addEvent({
        deploymentKey: key,
        kind: `${kind}-skipped`,
        message: `scheduled ${kind} not queued: ${(error as Error).message}`,
      });
    }
  }
}

async function work(ctx: FeatureContext, queue: string, fn: () => Promise<void>) {
  let worked = workedQueues.get(ctx);
  if (!worked) workedQueues.set(ctx, (worked = new Set()));
  if (worked.has(queue)) return;
  worked.add(queue);
  await ensureQueue(ctx.boss, queue);
  await ctx.boss.work(queue, async () => fn());
}

/** One cron queue per distinct baseBackupCron of msp.yaml; each run queues a backup of every deployment using it. */
export async function syncBackupSchedules(ctx: FeatureContext): Promise<void> {
  const byCron = new Map<string, string[]>();
  for (const d of await eligible(ctx)) {
    const cron = d.spec.envConfig.backups?.baseBackupCron ?? '0 3 * * *';
    byCron.set(cron, [...(byCron.get(cron) ?? []), d.key]);
  }
  for (const cron of byCron.keys()) {
    const queue = cronQueue(cron);
    await work(ctx, queue, async () => {
      const keys = (await eligible(ctx))
        .filter((d) => (d.spec.envConfig.backups?.baseBackupCron ?? '0 3 * * *') === cron)
        .map((d) => d.key);
      await enqueueEach(ctx, keys, 'backup', 'scheduled daily backup (base backup and volume snapshots)', {
        kind: 'scheduled',
      });
    });
    await ctx.boss.schedule(queue, cron, {}, { tz: 'UTC' });
  }
}

export async function installSchedules(ctx: FeatureContext, options: BackupsModuleOptions): Promise<void> {
  await work(ctx, RETENTION_QUEUE, async () =>
    enqueueEach(
      ctx,
      (await eligible(ctx)).map((d) => d.key),
      'retention',
      'scheduled retention',
    ),
  );
  await ctx.boss.schedule(RETENTION_QUEUE, options.retentionCron ?? '30 4 * * *', {}, { tz: 'UTC' });
  await work(ctx, DRILL_QUEUE, async () =>
    enqueueEach(
      ctx,
      (await eligible(ctx)).filter((d) => d.spec.environment.resources?.postgreSQL).map((d) => d.key),
      'restore-drill',
      'scheduled restore drill',
    ),
  );
  await ctx.boss.schedule(DRILL_QUEUE, options.drillCron ?? '30 5 * * *', {}, { tz: 'UTC' });
  await syncBackupSchedules(ctx);
}
