/**
 * Restores: choosing what to restore from (the plan), and the clone deployment a restore `--into` creates.
 * The restore operation's steps are in restore-operation.ts.
 */
import {
  ConflictError,
  InputError,
  NotFoundError,
  PreconditionFailedError,
  baseBackupFor,
  cloneNameProblem,
  isGood,
  validateRestoreTarget,
  volumesOf,
  type DeploymentSpec,
  type RestoreTarget,
} from '@msp/core';
import { backupHealth, type BackupDeps } from './backups.js';
import type { BackupRow } from './store.js';

export type RestoreType = 'full' | 'database' | `volume:${string}`;

export interface RestoreInput {
  target: RestoreTarget;
  type: RestoreType;
  into?: string;
  inPlace?: boolean;
  /** In place only: rewrite only what differs from the backup (pgBackRest's --delta). */
  delta?: boolean;
}

export interface RestorePlan {
  baseBackupId: string | null;
  snapshots: Record<string, string>;
}

/** Validates the request against the deployment's backups and window; says what will be restored. */
export async function planRestore(deps: BackupDeps, key: string, input: RestoreInput): Promise<RestorePlan> {
  if (!input.into === !input.inPlace) {
    throw new InputError('Say where to restore: --into <new deployment name> or --in-place (one of them).');
  }
  if (input.delta && !input.inPlace) {
    throw new InputError("--delta rewrites the deployment's own data: use it with --in-place, not --into.");
  }
  const row = await deps.store.requireDeployment(key);
  const spec = row.spec as DeploymentSpec;
  const rows = await deps.backups.list(key);
  const wantsDb = input.type === 'full' || input.type === 'database';
  const volumes = input.type.startsWith('volume:')
    ? [input.type.slice('volume:'.length)]
    : input.type === 'full'
      ? volumesOf(spec)
      : [];
  for (const v of volumes) {
    if (!volumesOf(spec).includes(v)) {
      throw new InputError(
        `Deployment ${key} has no volume '${v}'; its volumes: ${volumesOf(spec).join(', ') || 'none'}.`,
      );
    }
  }
  let baseBackupId: string | null = null;
  let targetTime: number | undefined;
  if (input.target.kind === 'backup') {
    const id = input.target.backupId;
    const b = rows.find((r) => r.id === id || r.id === `${id}-base`);
    if (!b) throw new NotFoundError(`No backup ${id} of ${key}; see \`msp backup list\`.`);
    if (!isGood(b)) {
      throw new PreconditionFailedError(
        `Backup ${b.id} is not good (${b.status}${b.verifyOk === false ? ', failed verification' : ''}); choose another.`,
      );
    }
    targetTime = Date.parse(b.finishedAt!);
  }
  if (wantsDb && spec.environment.resources?.postgreSQL) {
    const health = await backupHealth(deps, key);
    validateRestoreTarget(input.target, health.window ?? undefined);
    const target: RestoreTarget =
      input.target.kind === 'backup'
        ? { kind: 'backup', backupId: baseIdOf(input.target.backupId, rows) }
        : input.target;
    const base = baseBackupFor(target, rows);
    if (!base) {
      throw new PreconditionFailedError(
        `No good base backup of ${key} to restore ${describe(input.target)} from; take one (\`msp backup create\`).`,
      );
    }
    baseBackupId = base.id;
  }
  if (input.target.kind === 'time') targetTime = Date.parse(input.target.time);
  const snapshots: Record<string, string> = {};
  for (const v of volumes) {
    const candidates = rows
      .filter((r) => r.type === 'volume' && r.volume === v && isGood(r))
      .filter((r) => targetTime === undefined || Date.parse(r.finishedAt!) <= targetTime + 60_000)
      .sort((a, b) => b.finishedAt!.localeCompare(a.finishedAt!));
    const s = candidates[0];
    if (!s) throw new PreconditionFailedError(`No good snapshot of volume ${v} at or before the target.`);
    snapshots[v] = s.id;
  }
  return { baseBackupId, snapshots };
}

function baseIdOf(id: string, rows: BackupRow[]): string {
  const b = rows.find((r) => r.id === id || r.id === `${id}-base`);
  if (b?.type === 'base') return b.id;
  const group = b?.id.replace(/-vol-.*$/, '');
  return rows.find((r) => r.type === 'base' && r.id === `${group}-base`)?.id ?? id;
}

export function describe(t: RestoreTarget): string {
  return t.kind === 'time'
    ? `to ${t.time}`
    : t.kind === 'backup'
      ? `backup ${t.backupId}`
      : 'to the latest state';
}

/** The key of a clone named `name` of deployment `key`. */
export function cloneKeyOf(key: string, spec: DeploymentSpec, name: string): string {
  const problem = cloneNameProblem(name);
  if (problem) throw new InputError(`into: ${problem}.`);
  return spec.instance
    ? `instance/${spec.instance.environment}/${name}`
    : `${spec.service.service.id}/${name}`;
}

/** Creates the clone's deployment row (managedBy 'clone'); its secrets are its own, never the original's. */
export async function createClone(
  deps: BackupDeps,
  key: string,
  name: string,
  options: { workload: boolean },
): Promise<string> {
  const row = await deps.store.requireDeployment(key);
  const spec = row.spec as DeploymentSpec;
  const cloneKey = cloneKeyOf(key, spec, name);
  const existing = await deps.store.getDeployment(cloneKey);
  if (existing && existing.managedBy !== 'clone') {
    throw new ConflictError(`Deployment ${cloneKey} already exists; choose another name for the clone.`);
  }
  const cloneSpec: DeploymentSpec = {
    ...spec,
    key: cloneKey,
    ...(spec.instance
      ? { instance: { ...spec.instance, id: name } }
      : { environment: { ...spec.environment, id: name } }),
  };
  delete cloneSpec.domain;
  await deps.store.upsertDeployment({
    key: cloneKey,
    kind: row.kind,
    service: row.service,
    environment: spec.instance ? row.environment : name,
    ...(spec.instance ? { instance: name } : {}),
    spec: cloneSpec,
    specHash: `clone-of-${row.specHash}`,
    managedBy: 'clone',
  });
  // A full clone runs the release the original runs (a rollout may have moved it past the working tree);
  // a clone of data only runs no workload, now or after a restart (the reconciler starts its database).
  await deps.store.setTargetRelease(cloneKey, options.workload ? row.targetRelease : null);
  // A clone is a deployment of its own: its database passwords are its own (generated with its cluster);
  // the restore sets them in the restored cluster before the clone serves (the target's `recover`).
  return cloneKey;
}

export { isGood };
