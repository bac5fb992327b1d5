/**
 * The backups feature: operations (backup, verify-backup, delete-backup, restore, restore-drill,
 * retention), their schedules (schedules.ts) and the /backups and /restores API (routes.ts). The work on
 * files and databases is the deployment's runtime target's (its databases and volumes capabilities).
 */
import type { OperationKind } from '@msp/core';
import { inputOf } from '../operations/inputs.js';
import type { OperationHandler, StepContext } from '../operations/engine.js';
import type { FeatureContext, FeatureModule } from '../server.js';
import { backupIdFor, takeBackup, type BackupDeps } from './backups.js';
import { deleteBackup, runRetention, verifyBackup } from './catalog-operations.js';
import { runDrill } from './drill.js';
import { backupIdInput, backupInput } from './inputs.js';
import { onRestoreFinished, restoreSteps, runRestoreStep } from './restore-operation.js';
import { backupRoutes } from './routes.js';
import { installSchedules, syncBackupSchedules } from './schedules.js';
import { BACKUP_MIGRATIONS, createBackupStore } from './store.js';

export const BACKUP_KINDS_OF_OPERATION = [
  'backup',
  'verify-backup',
  'delete-backup',
  'restore',
  'restore-drill',
  'retention',
] as const;

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
    migrations: BACKUP_MIGRATIONS,
    setup(ctx: FeatureContext) {
      const backups = createBackupStore(ctx.db);
      const deps: BackupDeps = { store: ctx.store, backups, targets: ctx.targets, log: ctx.log };
      const handler = createBackupsHandler(deps);
      // Deleting a deployment the platform repo still declares, confirmed: its data is backed up first.
      ctx.targets.addDeleteStep('final-backup', (step) => takeFinalBackup(deps, step));
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

/** The delete operation's first step: a backup of everything when the deletion asked for one. */
async function takeFinalBackup(deps: BackupDeps, ctx: StepContext): Promise<string> {
  const op = ctx.operation;
  if (op.input?.finalBackup !== true) return 'none asked for';
  const taken = await takeBackup(deps, op.deploymentKey, {
    kind: 'on-demand',
    reason: `final backup before deleting ${op.deploymentKey} (operation ${op.id})`,
    id: `${backupIdFor(op)}-final`,
    operationId: op.id,
    log: (m) => ctx.log(m),
  });
  ctx.setResult({ finalBackupId: taken.backupId, finalSnapshots: taken.snapshots });
  const what = [taken.backupId, ...Object.values(taken.snapshots)].filter(Boolean).join(', ');
  return what ? `final backup ${what}` : 'nothing to back up';
}

/** One kind of operation: its steps (from its input) and how each runs. */
interface Kind {
  steps(input: Record<string, unknown>): readonly string[];
  run(step: string, ctx: StepContext): Promise<string>;
}

export function createBackupsHandler(deps: BackupDeps): OperationHandler {
  const single = (step: string, run: (ctx: StepContext) => Promise<string>): Kind => ({
    steps: () => [step],
    run: (_step, ctx) => run(ctx),
  });
  const kinds: Record<(typeof BACKUP_KINDS_OF_OPERATION)[number], Kind> = {
    backup: single('backup', async (ctx) => {
      const op = ctx.operation;
      const taken = await takeBackup(deps, op.deploymentKey, {
        kind: inputOf(op, backupInput).kind ?? 'on-demand',
        reason: op.reason,
        id: backupIdFor(op),
        operationId: op.id,
        log: (m) => ctx.log(m),
      });
      ctx.setResult({ backupId: taken.backupId, snapshots: taken.snapshots });
      return [taken.backupId ?? 'no database', ...Object.values(taken.snapshots)].join(', ');
    }),
    'verify-backup': single('verify', (ctx) =>
      verifyBackup(deps, inputOf(ctx.operation, backupIdInput).backupId, ctx),
    ),
    'delete-backup': single('delete', (ctx) =>
      deleteBackup(deps, inputOf(ctx.operation, backupIdInput).backupId),
    ),
    retention: single('retention', (ctx) => runRetention(deps, ctx.operation.deploymentKey, ctx)),
    'restore-drill': single('drill', (ctx) => runDrill(deps, ctx.operation.deploymentKey, ctx)),
    restore: { steps: restoreSteps, run: (step, ctx) => runRestoreStep(deps, step, ctx) },
  };
  const kindOf = (kind: OperationKind): Kind | undefined => (kinds as Record<string, Kind | undefined>)[kind];
  return {
    kinds: BACKUP_KINDS_OF_OPERATION,
    steps: (kind, input) => kindOf(kind)?.steps(input) ?? [],
    runStep(step, ctx) {
      const kind = kindOf(ctx.operation.kind);
      if (!kind) throw new Error(`the backups feature has no operation ${ctx.operation.kind}`);
      return kind.run(step, ctx);
    },
    async onFinished(op) {
      if (op.kind === 'restore') await onRestoreFinished(deps, op);
    },
  };
}
