/**
 * The restore drill: the latest good base backup is restored into a scratch copy by the deployment's
 * target, recovered to the end of the archive and read table by table; the result is recorded (and an
 * event says whether it passed) and the copy removed.
 */
import { PreconditionFailedError, isGood } from '@msp/core';
import type { StepContext } from '../operations/engine.js';
import type { BackupDeps } from './backups.js';

export async function runDrill(deps: BackupDeps, key: string, ctx: StepContext): Promise<string> {
  const rows = await deps.backups.list(key);
  const base = rows
    .filter((r) => r.type === 'base' && isGood(r))
    .sort((a, b) => b.finishedAt!.localeCompare(a.finishedAt!))[0];
  if (!base)
    throw new PreconditionFailedError(
      `No good base backup of ${key} to drill; take one (\`msp backup create\`).`,
    );
  const target = await deps.targets.of(key);
  if (!(await target.databases.describe(key)))
    throw new PreconditionFailedError(`${key} has no PostgreSQL to drill.`);
  const drillId = await deps.backups.startDrill({
    deploymentKey: key,
    backupId: base.id,
    operationId: ctx.operation.id,
  });
  const started = Date.now();
  try {
    const found = await target.databases.drill(
      key,
      { backupId: base.id, ...(base.startWal ? { startWal: base.startWal } : {}) },
      (m) => ctx.log(m),
    );
    const detail = {
      backupId: base.id,
      seconds: (Date.now() - started) / 1000,
      databases: found.databases,
      rowCounts: found.rowCounts,
    };
    await deps.backups.finishDrill(drillId, true, detail);
    ctx.setResult({ drill: detail });
    await deps.store.addEvent({
      deploymentKey: key,
      kind: 'restore-drill-passed',
      message: `restore drill of ${base.id} passed`,
      data: detail,
    });
    return `drill passed: ${base.id} restored in ${detail.seconds.toFixed(1)} s; ${Object.keys(found.rowCounts).length} table(s) readable`;
  } catch (error) {
    await deps.backups.finishDrill(drillId, false, { backupId: base.id, error: (error as Error).message });
    await deps.store.addEvent({
      deploymentKey: key,
      kind: 'restore-drill-failed',
      message: `restore drill of ${base.id} failed: ${(error as Error).message}`,
    });
    throw error;
  }
}
