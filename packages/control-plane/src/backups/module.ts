/**
 * The backups feature: operations (backup, verify-backup, delete-backup, restore, restore-drill,
 * retention), their schedules (pg-boss cron) and the /backups and /restores API.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import pg from 'pg';
import {
  ConflictError,
  InputError,
  NotFoundError,
  PreconditionFailedError,
  isGood,
  planRetention,
  walDeletable,
  type Operation,
  type RestoreTarget,
} from '@msp/core';
import {
  createPostgresCluster,
  deleteArchivedWal,
  findFreePort,
  verifyArchivedWal,
  verifyBaseBackup,
  verifyVolumeSnapshot,
  ARCHIVER_STATUS_SQL,
  toArchiverStatus,
  type ArchiverStatus,
} from '@msp/runtime-local';
import type { Hono } from 'hono';
import { apiRouter, declaresDatabase, type ApiEnv } from '../api/app.js';
import { enqueueExplained } from '../api/busy.js';
import { slugOf } from '../data-dir.js';
import { ensureQueue, type OperationHandler, type StepContext } from '../operations/engine.js';
import type { DeploymentSpec } from '../reconciler.js';
import type { FeatureContext, FeatureModule } from '../server.js';
import {
  backupHealth,
  backupIdFor,
  localOf,
  repositoryOf,
  takeBackup,
  walSegmentRange,
  type BackupDeps,
} from './backups.js';
import {
  createClone,
  cloneKeyOf,
  describe,
  planRestore,
  putBackOldData,
  recoverCluster,
  restoreDatabaseFiles,
  restoreVolumes,
  type RestoreInput,
  type RestorePlan,
} from './restore.js';
import { readInput } from '../api/schemas.js';
import { backupInputs, backupRoutes as backupRoutesOf } from './schemas.js';
import { createBackupStore } from './store.js';

export const BACKUP_KINDS_OF_OPERATION = [
  'backup',
  'verify-backup',
  'delete-backup',
  'restore',
  'restore-drill',
  'retention',
] as const;

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$/;

export interface BackupsModuleOptions {
  /** Cron of the retention run (default 04:30 UTC daily). */
  retentionCron?: string;
  /** Cron of the restore drill (default 05:30 UTC daily). */
  drillCron?: string;
  /** Whether to install schedules (default true). */
  schedules?: boolean;
}

export function createBackupsModule(options: BackupsModuleOptions = {}): FeatureModule {
  return {
    name: 'backups',
    setup(ctx: FeatureContext) {
      const backups = createBackupStore(ctx.store.pool);
      const deps: BackupDeps = {
        store: ctx.store,
        backups,
        runtime: ctx.runtime,
        dataDir: ctx.dataDir,
        log: ctx.log,
      };
      const handler = createBackupsHandler(deps);
      let syncTimer: NodeJS.Timeout | undefined;
      return Promise.resolve({
        handlers: [handler],
        routes: [(api) => backupRoutes(api, deps, ctx)],
        start: async () => {
          if (options.schedules === false) return;
          await installSchedules(ctx, options);
          syncTimer = setInterval(() => {
            void syncBackupSchedules(ctx).catch((e: unknown) => ctx.log(`backups: schedules: ${String(e)}`));
          }, 60_000);
        },
        stop: () => {
          clearInterval(syncTimer);
          return Promise.resolve();
        },
      });
    },
  };
}

// ---- operations --------------------------------------------------------------------------------------

function restoreInputOf(op: Operation): RestoreInput {
  return readInput(backupInputs.restore, op);
}

export function createBackupsHandler(deps: BackupDeps): OperationHandler {
  const { backups } = deps;
  const planOf = (ctx: StepContext): RestorePlan => {
    const plan = ctx.operation.result?.plan as RestorePlan | undefined;
    if (!plan) throw new Error('the restore has no plan: its first step did not run');
    return plan;
  };
  return {
    kinds: BACKUP_KINDS_OF_OPERATION,
    steps(kind, input) {
      switch (kind) {
        case 'backup':
          return ['backup'];
        case 'verify-backup':
          return ['verify'];
        case 'delete-backup':
          return ['delete'];
        case 'retention':
          return ['retention'];
        case 'restore-drill':
          return ['drill'];
        case 'restore': {
          const r = readInput(backupInputs.restore, { id: '(new)', kind, input });
          const db = r.type === 'full' || r.type === 'database';
          if (r.into) {
            return [
              'plan',
              'create-clone',
              ...(db ? ['restore-files', 'recover'] : []),
              'restore-volumes',
              ...(r.type === 'full' ? ['start-workload'] : []),
            ];
          }
          return [
            'plan',
            'safety-backup',
            'stop-workload',
            ...(db ? ['stop-database', 'restore-files', 'recover'] : []),
            'restore-volumes',
            'start-workload',
            'health-check',
            'cleanup',
          ];
        }
        default:
          return [];
      }
    },
    async runStep(step, ctx) {
      const op = ctx.operation;
      const key = op.deploymentKey;
      const log = (m: string) => ctx.log(m);
      if (op.kind === 'backup') {
        const { kind } = readInput(backupInputs.backup, op);
        const taken = await takeBackup(deps, key, {
          kind,
          reason: op.reason,
          id: backupIdFor(op),
          operationId: op.id,
          log,
        });
        ctx.setResult({ backupId: taken.backupId, snapshots: taken.snapshots });
        return [taken.backupId ?? 'no database', ...Object.values(taken.snapshots)].join(', ');
      }
      if (op.kind === 'verify-backup')
        return verifyBackup(deps, readInput(backupInputs.backupId, op).backupId, ctx);
      if (op.kind === 'delete-backup')
        return deleteBackup(deps, readInput(backupInputs.backupId, op).backupId);
      if (op.kind === 'retention') return runRetention(deps, key, ctx);
      if (op.kind === 'restore-drill') return runDrill(deps, key, ctx);
      // restore
      const input = restoreInputOf(op);
      const local = localOf(deps.runtime);
      const targetKey = () => {
        if (!input.into) return key;
        const row = op.result?.cloneKey as string | undefined;
        if (!row) throw new Error('the clone was not created');
        return row;
      };
      switch (step) {
        case 'plan': {
          const plan = await planRestore(deps, key, input);
          ctx.setResult({ plan });
          return `${plan.baseBackupId ?? 'no database'}${
            Object.keys(plan.snapshots).length
              ? `; volumes ${Object.entries(plan.snapshots)
                  .map(([v, id]) => `${v} ← ${id}`)
                  .join(', ')}`
              : ''
          }`;
        }
        case 'create-clone': {
          const cloneKey = await createClone(deps, key, input.into!);
          ctx.setResult({ cloneKey });
          await deps.store.addEvent({
            deploymentKey: cloneKey,
            kind: 'clone-created',
            message: `clone of ${key} (${describe(input.target)})`,
          });
          return cloneKey;
        }
        case 'safety-backup': {
          const taken = await takeBackup(deps, key, {
            kind: 'on-demand',
            reason: `safety backup before an in-place restore (operation ${op.id})`,
            id: `${backupIdFor(op)}-safety`,
            operationId: op.id,
            log,
          });
          ctx.setResult({ safetyBackupId: taken.backupId, safetySnapshots: taken.snapshots });
          return `safety backup ${taken.backupId ?? ''} ${Object.values(taken.snapshots).join(' ')}`.trim();
        }
        case 'stop-workload':
          await local.stopWorkload(key);
          await deps.store.setStatus(key, 'restoring', `restore ${describe(input.target)}`);
          return 'instances stopped; requests wait at the proxy';
        case 'stop-database':
          await local.stopDatabase(key);
          return 'PostgreSQL stopped';
        case 'restore-files': {
          const plan = planOf(ctx);
          const cluster = await local.database(targetKey());
          if (!cluster || !plan.baseBackupId) return 'no database';
          if (await cluster.isRunning()) await cluster.stop('fast');
          return restoreDatabaseFiles(deps, key, cluster, plan.baseBackupId, !input.into);
        }
        case 'recover': {
          const plan = planOf(ctx);
          const cluster = await local.database(targetKey());
          if (!cluster || !plan.baseBackupId) return 'no database';
          const base = await backups.get(plan.baseBackupId);
          const target: RestoreTarget =
            input.target.kind === 'backup' ? { kind: 'backup', backupId: plan.baseBackupId } : input.target;
          return recoverCluster(deps, key, cluster, target, ctx, base?.startWal);
        }
        case 'restore-volumes': {
          const plan = planOf(ctx);
          if (!input.into && Object.keys(plan.snapshots).length > 0) await local.stopWorkload(key);
          return restoreVolumes(deps, key, targetKey(), plan.snapshots);
        }
        case 'start-workload': {
          const detail = await local.startWorkload(targetKey(), ctx);
          await deps.store.setStatus(targetKey(), 'healthy', null);
          return detail;
        }
        case 'health-check': {
          const cluster = await local.database(key);
          if (cluster) {
            for (const db of cluster.options.databases) await cluster.query('SELECT 1', [], db);
          }
          const status = deps.runtime.status(key);
          const bad = (status?.instances ?? []).filter((i) => i.state !== 'healthy');
          if (bad.length > 0)
            throw new PreconditionFailedError(`${bad.length} instance(s) not healthy after the restore`);
          return `healthy: ${(status?.instances ?? []).length} instance(s)${cluster ? ', database answers' : ''}`;
        }
        case 'cleanup': {
          const cluster = await local.database(key);
          if (cluster)
            await rm(join(cluster.options.dir, 'data.before-restore'), { recursive: true, force: true });
          await deps.store.addEvent({
            deploymentKey: key,
            kind: 'restored',
            message: `restored in place ${describe(input.target)}`,
          });
          return 'the data from before the restore was removed (the safety backup keeps it)';
        }
        default:
          throw new Error(`unknown restore step ${step}`);
      }
    },
    async onFinished(op) {
      const safety = typeof op.result?.safetyBackupId === 'string' ? op.result.safetyBackupId : undefined;
      if (op.kind === 'restore' && op.status === 'failed' && !restoreInputOf(op).into) {
        // In place: the old data goes back (it was only set aside), the workload starts again.
        const local = localOf(deps.runtime);
        const key = op.deploymentKey;
        try {
          const cluster = await local.database(key);
          const putBack = cluster ? await putBackOldData(cluster) : false;
          if (cluster && !putBack && !(await cluster.isRunning())) await cluster.ensure();
          await deps.store.appendLog(
            op.id,
            'warn',
            putBack
              ? 'restore failed: the data from before the restore was put back and PostgreSQL started'
              : `restore failed: the data was not changed${safety ? `; safety backup ${safety}` : ''}`,
          );
          await local.startWorkload(key, {
            operation: op,
            log: (m, level) => deps.store.appendLog(op.id, level ?? 'info', m),
            setResult: () => undefined,
          });
          await deps.store.setStatus(key, 'healthy', null);
        } catch (error) {
          await deps.store.appendLog(
            op.id,
            'error',
            `after the failed restore the deployment could not be started again: ${(error as Error).message}; ` +
              `recover it from safety backup ${safety ?? '(none)'} with \`msp restore --backup\`.`,
          );
        }
      }
      if (op.kind === 'restore' && op.status === 'failed' && restoreInputOf(op).into) {
        const cloneKey = op.result?.cloneKey as string | undefined;
        if (cloneKey) {
          await deps.store.setStatus(cloneKey, 'failed', op.error ?? 'restore failed');
          const cluster = await localOf(deps.runtime)
            .database(cloneKey)
            .catch(() => undefined);
          await cluster?.stop('immediate').catch(() => undefined);
        }
      }
    },
  };
}

async function verifyBackup(deps: BackupDeps, id: string, ctx: StepContext): Promise<string> {
  const b = await deps.backups.get(id);
  if (!b) throw new NotFoundError(`No backup ${id}; see \`msp backup list\`.`);
  const repository = repositoryOf(deps.dataDir, b.deploymentKey);
  let problems: { file: string; problem: string }[];
  let what: string;
  if (b.type === 'base') {
    const r = await verifyBaseBackup(repository, id);
    problems = r.problems;
    what = `${r.files} files`;
    if (b.startWal && b.stopWal) {
      const names = walSegmentRange(b.startWal, b.stopWal);
      problems.push(
        ...(await verifyArchivedWal(localOf(deps.runtime).paths(b.deploymentKey).archive, names)),
      );
      what += `, ${names.length} WAL segment(s)`;
    }
  } else {
    problems = (await verifyVolumeSnapshot(repository, id)).problems;
    what = `volume snapshot of ${b.volume ?? '?'}`;
  }
  await deps.backups.recordVerification(id, problems);
  for (const p of problems) await ctx.log(`${p.file}: ${p.problem}`, 'error');
  if (problems.length > 0) {
    throw new PreconditionFailedError(
      `Backup ${id} is corrupt: ${problems.map((p) => `${p.file}: ${p.problem}`).join('; ')}. It will not be used for restores.`,
    );
  }
  return `verified: ${what}, every checksum matches`;
}

async function deleteBackup(deps: BackupDeps, id: string): Promise<string> {
  const b = await deps.backups.get(id);
  if (!b) return `backup ${id} is already gone`;
  const rows = await deps.backups.list(b.deploymentKey);
  const goodOfType = rows.filter((r) => r.type === b.type && r.volume === b.volume && isGood(r));
  if (isGood(b) && goodOfType.length === 1) {
    throw new PreconditionFailedError(
      `Backup ${id} is the last good ${b.type === 'base' ? 'base backup' : `snapshot of volume ${b.volume ?? ''}`} of ${b.deploymentKey}: it is never deleted. Take a newer one first.`,
    );
  }
  await repositoryOf(deps.dataDir, b.deploymentKey).deletePrefix(
    `${b.type === 'base' ? 'base' : 'volume'}/${id}/`,
  );
  await deps.backups.remove(id);
  await deps.store.addEvent({
    deploymentKey: b.deploymentKey,
    kind: 'backup-deleted',
    message: `backup ${id} deleted on request`,
  });
  return `deleted ${id}`;
}

async function runRetention(deps: BackupDeps, key: string, ctx: StepContext): Promise<string> {
  const rows = await deps.backups.list(key);
  const plan = planRetention(rows, new Date());
  const repository = repositoryOf(deps.dataDir, key);
  for (const d of plan.delete) {
    const b = rows.find((r) => r.id === d.id)!;
    await repository.deletePrefix(`${b.type === 'base' ? 'base' : 'volume'}/${d.id}/`);
    await deps.backups.remove(d.id);
    await ctx.log(`deleted ${d.id}: ${d.reason}`);
    await deps.store.addEvent({
      deploymentKey: key,
      kind: 'backup-deleted',
      message: `retention deleted ${d.id}: ${d.reason}`,
      data: { backup: d.id, reason: d.reason },
    });
  }
  const archive = localOf(deps.runtime).paths(key).archive;
  const health = await backupHealth(deps, key);
  const walGone = health.segments.map((s) => s.name).filter((n) => walDeletable(n, plan));
  await deleteArchivedWal(archive, walGone);
  if (walGone.length > 0)
    await ctx.log(
      `deleted ${walGone.length} WAL segment(s) older than the recovery window (${walGone[0]} .. ${walGone[walGone.length - 1]})`,
    );
  ctx.setResult({ deleted: plan.delete, kept: plan.keep, walDeleted: walGone.length });
  return `deleted ${plan.delete.length} backup(s) and ${walGone.length} WAL segment(s); kept ${plan.keep.length}`;
}

/**
 * Restores the latest good base backup into a scratch cluster (its own dir and port), recovers to the end
 * of the archive, checks the server, the databases and that every table of the workload is readable with
 * its row count, records the result and removes the scratch cluster.
 */
async function runDrill(deps: BackupDeps, key: string, ctx: StepContext): Promise<string> {
  const rows = await deps.backups.list(key);
  const base = rows
    .filter((r) => r.type === 'base' && isGood(r))
    .sort((a, b) => b.finishedAt!.localeCompare(a.finishedAt!))[0];
  if (!base)
    throw new PreconditionFailedError(
      `No good base backup of ${key} to drill; take one (\`msp backup create\`).`,
    );
  const local = localOf(deps.runtime);
  const original = await local.database(key);
  if (!original) throw new PreconditionFailedError(`${key} has no PostgreSQL to drill.`);
  const drillId = await deps.backups.startDrill({
    deploymentKey: key,
    backupId: base.id,
    operationId: ctx.operation.id,
  });
  const scratchDir = join(deps.dataDir.root, 'drills', slugOf(key));
  const scratch = createPostgresCluster({
    ...original.options,
    name: `drill-${slugOf(key)}`,
    dir: scratchDir,
    port: await findFreePort(),
    archiveDir: join(deps.dataDir.root, 'drills', `${slugOf(key)}-archive`),
  });
  const started = Date.now();
  try {
    await scratch.stop('immediate').catch(() => undefined);
    await rm(scratchDir, { recursive: true, force: true });
    await restoreDatabaseFiles(deps, key, scratch, base.id, false);
    await recoverCluster(deps, key, scratch, { kind: 'latest' }, ctx, base.startWal);
    const databases = (
      await scratch.query<{ datname: string }>('SELECT datname FROM pg_database WHERE NOT datistemplate')
    ).map((r) => r.datname);
    const missing = original.options.databases.filter((d) => !databases.includes(d));
    if (missing.length > 0)
      throw new PreconditionFailedError(`databases missing after the restore: ${missing.join(', ')}`);
    const counts: Record<string, number> = {};
    for (const db of original.options.databases) {
      const client = new pg.Client({ ...scratch.connectionConfig('admin', db) });
      await client.connect();
      try {
        const tables = await client.query<{ t: string }>(
          `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`,
        );
        for (const { t } of tables.rows) {
          counts[`${db}.${t}`] = Number(
            (await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`)).rows[0]!.n,
          );
        }
      } finally {
        await client.end();
      }
    }
    const detail = {
      backupId: base.id,
      seconds: (Date.now() - started) / 1000,
      databases,
      rowCounts: counts,
    };
    await deps.backups.finishDrill(drillId, true, detail);
    ctx.setResult({ drill: detail });
    await deps.store.addEvent({
      deploymentKey: key,
      kind: 'restore-drill-passed',
      message: `restore drill of ${base.id} passed`,
      data: detail,
    });
    return `drill passed: ${base.id} restored in ${detail.seconds.toFixed(1)} s; ${Object.keys(counts).length} table(s) readable`;
  } catch (error) {
    await deps.backups.finishDrill(drillId, false, { backupId: base.id, error: (error as Error).message });
    await deps.store.addEvent({
      deploymentKey: key,
      kind: 'restore-drill-failed',
      message: `restore drill of ${base.id} failed: ${(error as Error).message}`,
    });
    throw error;
  } finally {
    await scratch.stop('immediate').catch(() => undefined);
    await rm(scratchDir, { recursive: true, force: true });
    await rm(join(deps.dataDir.root, 'drills', `${slugOf(key)}-archive`), { recursive: true, force: true });
  }
}

// ---- schedules ---------------------------------------------------------------------------------------

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
async function syncBackupSchedules(ctx: FeatureContext): Promise<void> {
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

async function installSchedules(ctx: FeatureContext, options: BackupsModuleOptions): Promise<void> {
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

// ---- API ---------------------------------------------------------------------------------------------

type Api = Hono<ApiEnv>;

async function archiverOf(deps: BackupDeps, key: string): Promise<ArchiverStatus | null> {
  try {
    const cluster = await localOf(deps.runtime).database(key);
    if (!cluster || !(await cluster.isRunning())) return null;
    const [row] = await cluster.query(ARCHIVER_STATUS_SQL);
    return row ? toArchiverStatus(row) : null;
  } catch {
    return null;
  }
}

function backupRoutes(api: Api, deps: BackupDeps, ctx: FeatureContext): void {
  const { backups } = deps;
  const r = backupRoutesOf;
  const routes = apiRouter();
  routes.openapi(r.list, async (c) => {
    const key = c.req.valid('query').deployment;
    await deps.store.requireDeployment(key);
    const [rows, health, archiver, drills] = await Promise.all([
      backups.list(key),
      backupHealth(deps, key),
      archiverOf(deps, key),
      backups.listDrills(key, 5),
    ]);
    const { segments, ...rest } = health;
    void segments;
    return c.json({ deployment: key, ...rest, archiver, drills, backups: rows }, 200);
  });
  routes.openapi(r.create, async (c) => {
    const body = c.req.valid('json');
    const row = await deps.store.requireDeployment(body.deployment);
    const spec = row.spec as DeploymentSpec;
    if (!declaresDatabase(spec) && (spec.environment.resources?.volumes ?? []).length === 0) {
      throw new PreconditionFailedError(
        `${row.key} declares no database and no volumes (no resources.postgreSQL or resources.volumes in its environment): there is nothing to back up.`,
      );
    }
    const kind = body.kind ?? 'on-demand';
    const op = await enqueueExplained(deps.store, ctx.engine, {
      kind: 'backup',
      deploymentKey: body.deployment,
      reason: body.reason ?? `${kind} backup`,
      createdBy: c.get('principal').name,
      input: { kind },
    });
    return c.json(op, 202);
  });
  for (const [route, kind, reason] of [
    [r.retention, 'retention', 'retention on request'],
    [r.drill, 'restore-drill', 'restore drill on request'],
  ] as const) {
    routes.openapi(route, async (c) => {
      const body = c.req.valid('json');
      await deps.store.requireDeployment(body.deployment);
      const op = await enqueueExplained(deps.store, ctx.engine, {
        kind,
        deploymentKey: body.deployment,
        reason,
        createdBy: c.get('principal').name,
      });
      return c.json(op, 202);
    });
  }
  routes.openapi(r.get, async (c) => {
    const { id } = c.req.valid('param');
    const b = await backups.get(id);
    if (!b) throw new NotFoundError(`No backup ${id}; see \`msp backup list\`.`);
    return c.json(b, 200);
  });
  const onBackup = async (
    kind: 'verify-backup' | 'delete-backup',
    id: string,
    by: string,
  ): Promise<Operation> => {
    const b = (await backups.get(id)) ?? (await backups.get(`${id}-base`));
    if (!b) throw new NotFoundError(`No backup ${id}; see \`msp backup list\`.`);
    if (kind === 'delete-backup') {
      const rows = await backups.list(b.deploymentKey);
      if (
        isGood(b) &&
        rows.filter((r) => r.type === b.type && r.volume === b.volume && isGood(r)).length === 1
      ) {
        throw new PreconditionFailedError(
          `Backup ${b.id} is the last good ${b.type === 'base' ? 'base backup' : `snapshot of volume ${b.volume ?? ''}`} of ${b.deploymentKey}: it is never deleted. Take a newer one first.`,
        );
      }
    }
    return enqueueExplained(deps.store, ctx.engine, {
      kind,
      deploymentKey: b.deploymentKey,
      reason: `${kind === 'verify-backup' ? 'verify' : 'delete'} backup ${b.id}`,
      createdBy: by,
      input: { backupId: b.id },
    });
  };
  for (const [route, kind] of [
    [r.verify, 'verify-backup'],
    [r.delete, 'delete-backup'],
    [r.remove, 'delete-backup'],
  ] as const) {
    routes.openapi(route, async (c) =>
      c.json(await onBackup(kind, c.req.valid('param').id, c.get('principal').name), 202),
    );
  }

  routes.openapi(r.restore, async (c) => {
    const body = c.req.valid('json');
    const key = body.deployment;
    const row = await deps.store.requireDeployment(key);
    let target: RestoreTarget;
    if (body.to !== undefined) {
      if (!RFC3339.test(body.to) || Number.isNaN(Date.parse(body.to))) {
        throw new InputError(`"${body.to}" is not an RFC 3339 time; use the form 2026-01-01T12:00:00Z.`);
      }
      target = { kind: 'time', time: new Date(body.to).toISOString() };
    } else if (body.backup !== undefined) target = { kind: 'backup', backupId: body.backup };
    else target = { kind: 'latest' };
    const input: RestoreInput = {
      target,
      type: body.type as RestoreInput['type'],
      ...(body.into ? { into: body.into } : {}),
      ...(body.inPlace ? { inPlace: true } : {}),
    };
    if (input.into) {
      const cloneKey = cloneKeyOf(key, row.spec as DeploymentSpec, input.into);
      const existing = await deps.store.getDeployment(cloneKey);
      if (existing)
        throw new ConflictError(`Deployment ${cloneKey} already exists; choose another name for --into.`);
    }
    // Refuse a target outside the recoverable window now (exit 2), not in the middle of the operation.
    const plan = await planRestore(deps, key, input);
    const op = await enqueueExplained(deps.store, ctx.engine, {
      kind: 'restore',
      deploymentKey: key,
      reason:
        body.reason ??
        `restore ${describe(target)} ${input.into ? `into ${input.into}` : 'in place'} (${input.type})`,
      createdBy: c.get('principal').name,
      input: input as unknown as Record<string, unknown>,
    });
    return c.json({ ...op, plan }, 202);
  });
  api.route('/', routes);
}
