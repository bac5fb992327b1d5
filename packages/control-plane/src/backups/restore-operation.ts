/**
 * The restore operation: into a clone deployment (plan, create the clone, restore and recover its
 * database, its volumes, start it) or in place (plan, a safety backup, stop, restore, recover, start,
 * check, clean up). Each step is idempotent: a control plane killed mid-restore resumes at the step it died
 * in. A failed in-place restore puts the data from before back and starts the deployment again.
 */
import { PreconditionFailedError, type Operation, type RestoreTarget } from '@msp/core';
import type { StepContext } from '../operations/engine.js';
import { recordHealth } from '../deployments/health.js';
import { inputOf } from '../operations/inputs.js';
import { backupIdFor, takeBackup, type BackupDeps } from './backups.js';
import { restoreInput, restorePlanResult } from './inputs.js';
import { createClone, describe, planRestore, type RestoreInput, type RestorePlan } from './restore.js';

export function restoreSteps(raw: Record<string, unknown>): string[] {
  const r = inputOf({ id: '(new)', kind: 'restore', input: raw }, restoreInput) as RestoreInput;
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

const planOf = (op: Operation): RestorePlan => {
  if (!op.result?.plan) throw new Error('the restore has no plan: its first step did not run');
  return inputOf({ ...op, input: op.result }, restorePlanResult).plan;
};

export async function runRestoreStep(deps: BackupDeps, step: string, ctx: StepContext): Promise<string> {
  const op = ctx.operation;
  const key = op.deploymentKey;
  const input = inputOf(op, restoreInput) as RestoreInput;
  const target = await deps.targets.of(key);
  const log = (m: string) => ctx.log(m);
  const targetKey = () => {
    if (!input.into) return key;
    const cloneKey = op.result?.cloneKey;
    if (typeof cloneKey !== 'string') throw new Error('the clone was not created');
    return cloneKey;
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
      const cloneKey = await createClone(deps, key, input.into!, { workload: input.type === 'full' });
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
      await target.workloads.stop(key);
      await deps.store.setStatus(key, 'restoring', `restore ${describe(input.target)}`);
      return 'instances stopped; requests wait at the proxy';
    case 'stop-database':
      await target.databases.stop(key);
      return 'PostgreSQL stopped';
    case 'restore-files': {
      const plan = planOf(op);
      if (!plan.baseBackupId || !(await target.databases.describe(targetKey()))) return 'no database';
      return target.databases.restoreBaseBackup(targetKey(), {
        from: key,
        backupId: plan.baseBackupId,
        inPlace: !input.into,
        ...(input.delta && !input.into ? { delta: true } : {}),
      });
    }
    case 'recover': {
      const plan = planOf(op);
      if (!plan.baseBackupId || !(await target.databases.describe(targetKey()))) return 'no database';
      const base = await deps.backups.get(plan.baseBackupId);
      const to: RestoreTarget =
        input.target.kind === 'backup' ? { kind: 'backup', backupId: plan.baseBackupId } : input.target;
      return target.databases.recover(
        targetKey(),
        {
          from: key,
          target: to,
          backupId: plan.baseBackupId,
          ...(base?.startWal ? { fromWal: base.startWal } : {}),
        },
        log,
      );
    }
    case 'restore-volumes': {
      const plan = planOf(op);
      if (!input.into && Object.keys(plan.snapshots).length > 0) await target.workloads.stop(key);
      const done: string[] = [];
      for (const [volume, id] of Object.entries(plan.snapshots)) {
        await target.volumes.restore(targetKey(), { from: key, volume, id });
        done.push(`${volume} ← ${id}`);
      }
      return done.length ? done.join(', ') : 'no volumes to restore';
    }
    case 'start-workload': {
      const detail = await target.workloads.start(targetKey(), ctx);
      await recordHealth(deps.store, target, targetKey());
      return detail;
    }
    case 'health-check': {
      const database = await target.databases.describe(key);
      if (database) await target.databases.check(key);
      const status = target.status(key);
      const bad = (status?.instances ?? []).filter((i) => i.state !== 'healthy');
      if (bad.length > 0)
        throw new PreconditionFailedError(`${bad.length} instance(s) not healthy after the restore`);
      return `healthy: ${(status?.instances ?? []).length} instance(s)${database ? ', database answers' : ''}`;
    }
    case 'cleanup': {
      if (await target.databases.describe(key)) await target.databases.discardPrevious(key);
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
}

/** After a failed restore: in place, the old data goes back and the workload starts; a clone is stopped. */
export async function onRestoreFinished(deps: BackupDeps, op: Operation): Promise<void> {
  if (op.status !== 'failed') return;
  const input = restoreInput.safeParse(op.input);
  const into = input.success ? input.data.into : undefined;
  const target = await deps.targets.of(op.deploymentKey).catch(() => undefined);
  if (!target) return;
  const safety = typeof op.result?.safetyBackupId === 'string' ? op.result.safetyBackupId : undefined;
  if (!into) {
    const key = op.deploymentKey;
    try {
      const database = await target.databases.describe(key);
      const putBack = database ? await target.databases.restorePrevious(key) : false;
      if (database && !putBack && !(await target.databases.isRunning(key)))
        await target.databases.ensure(key);
      await deps.store.appendLog(
        op.id,
        'warn',
        putBack
          ? 'restore failed: the data from before the restore was put back and PostgreSQL started'
          : input.success && input.data.delta
            ? `restore failed; a delta restore rewrites the data in place, so the state from before is in safety backup ${safety ?? '(none)'} (msp restore … --backup ${safety ?? '<id>'} --in-place)`
            : `restore failed: the data was not changed${safety ? `; safety backup ${safety}` : ''}`,
      );
      await target.workloads.start(key, {
        operation: op,
        log: (m, level) => deps.store.appendLog(op.id, level ?? 'info', m),
        setResult: () => undefined,
        // Not a step: the operation has ended and holds no lease to lose.
        signal: new AbortController().signal,
      });
      await recordHealth(deps.store, target, key);
    } catch (error) {
      await deps.store.appendLog(
        op.id,
        'error',
        `after the failed restore the deployment could not be started again: ${(error as Error).message}; ` +
          `recover it from safety backup ${safety ?? '(none)'} with \`msp restore --backup\`.`,
      );
    }
    return;
  }
  const cloneKey = op.result?.cloneKey;
  if (typeof cloneKey === 'string') {
    await deps.store.setStatus(cloneKey, 'failed', op.error ?? 'restore failed');
    await target.databases.stop(cloneKey, 'immediate').catch(() => undefined);
  }
}
