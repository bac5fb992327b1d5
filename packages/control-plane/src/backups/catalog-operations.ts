/**
 * The operations on the backup catalog: verify one backup, delete one on request, and the retention run
 * (backups and archived WAL past the policy). Deletion on request and by retention both obey core's
 * last-good rule.
 */
import { NotFoundError, assertNotLastGood, planRetention, walDeletable, type BackupRecord } from '@msp/core';
import { PreconditionFailedError } from '@msp/core';
import type { StepContext } from '../operations/engine.js';
import type { RuntimeTarget } from '../runtime-port.js';
import { backupHealth, type BackupDeps } from './backups.js';

/** Removes a backup's files from its target's backup store. */
function deleteFiles(target: RuntimeTarget, key: string, b: Pick<BackupRecord, 'id' | 'type'>) {
  return b.type === 'base'
    ? target.databases.deleteBaseBackup(key, b.id)
    : target.volumes.deleteSnapshot(key, b.id);
}

export async function verifyBackup(deps: BackupDeps, id: string, ctx: StepContext): Promise<string> {
  const b = await deps.backups.get(id);
  if (!b) throw new NotFoundError(`No backup ${id}; see \`msp backup list\`.`);
  const target = await deps.targets.of(b.deploymentKey);
  let problems: { file: string; problem: string }[];
  let what: string;
  if (b.type === 'base') {
    const r = await target.databases.verifyBaseBackup(
      b.deploymentKey,
      id,
      b.startWal && b.stopWal ? { startWal: b.startWal, stopWal: b.stopWal } : undefined,
    );
    problems = r.problems;
    what = `${r.files} files${b.startWal && b.stopWal ? `, ${r.walSegments} WAL segment(s)` : ''}`;
  } else {
    problems = await target.volumes.verifySnapshot(b.deploymentKey, id);
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

/** Refuses to delete a base backup that an incremental backup reads from (its chain would break). */
export function assertNoIncrementalReads(b: { id: string }, all: readonly BackupRecord[]): void {
  const readers = all.filter((o) => o.references?.includes(b.id)).map((o) => o.id);
  if (readers.length > 0) {
    throw new PreconditionFailedError(
      `Backup ${b.id} cannot be deleted: incremental backup ${readers.join(', ')} reads from it. Delete ${readers.length > 1 ? 'those' : 'that one'} first.`,
      { details: { readers } },
    );
  }
}

export async function deleteBackup(deps: BackupDeps, id: string): Promise<string> {
  const b = await deps.backups.get(id);
  if (!b) return `backup ${id} is already gone`;
  const all = await deps.backups.list(b.deploymentKey);
  assertNotLastGood(b, all);
  assertNoIncrementalReads(b, all);
  await deleteFiles(await deps.targets.of(b.deploymentKey), b.deploymentKey, b);
  await deps.backups.remove(id);
  await deps.store.addEvent({
    deploymentKey: b.deploymentKey,
    kind: 'backup-deleted',
    message: `backup ${id} deleted on request`,
  });
  return `deleted ${id}`;
}

export async function runRetention(deps: BackupDeps, key: string, ctx: StepContext): Promise<string> {
  const rows = await deps.backups.list(key);
  const plan = planRetention(rows, new Date());
  const target = await deps.targets.of(key);
  for (const d of plan.delete) {
    const b = rows.find((r) => r.id === d.id)!;
    await deleteFiles(target, key, b);
    await deps.backups.remove(d.id);
    await ctx.log(`deleted ${d.id}: ${d.reason}`);
    await deps.store.addEvent({
      deploymentKey: key,
      kind: 'backup-deleted',
      message: `retention deleted ${d.id}: ${d.reason}`,
      data: { backup: d.id, reason: d.reason },
    });
  }
  const health = await backupHealth(deps, key);
  const walGone = health.segments.map((s) => s.name).filter((n) => walDeletable(n, plan));
  await target.databases.deleteWal(key, walGone);
  if (walGone.length > 0)
    await ctx.log(
      `deleted ${walGone.length} WAL segment(s) older than the recovery window (${walGone[0]} .. ${walGone[walGone.length - 1]})`,
    );
  ctx.setResult({ deleted: plan.delete, kept: plan.keep, walDeleted: walGone.length });
  return `deleted ${plan.delete.length} backup(s) and ${walGone.length} WAL segment(s); kept ${plan.keep.length}`;
}
