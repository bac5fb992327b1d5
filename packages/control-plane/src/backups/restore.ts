/**
 * Restores: choosing what to restore from, and the steps of a restore into a clone deployment or in place.
 * Every step is idempotent (a control plane killed mid-restore resumes at the step it died in).
 */
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ConflictError,
  InputError,
  NotFoundError,
  PreconditionFailedError,
  baseBackupFor,
  cloneNameProblem,
  isGood,
  validateRestoreTarget,
  type RestoreTarget,
} from '@msp/core';
import {
  CLEAR_RECOVERY_SQL,
  removeWalSpool,
  postgresOsUser,
  restoreBaseBackup,
  listArchivedWal,
  restoreVolume,
  waitForRecovery,
  writeRecoveryConfig,
  type PostgresCluster,
} from '@msp/runtime-local';
import type { DeploymentSpec } from '../reconciler.js';
import type { StepContext } from '../operations/engine.js';
import { backupHealth, localOf, repositoryOf, volumesOf, type BackupDeps } from './backups.js';
import type { BackupRow } from './store.js';

export type RestoreType = 'full' | 'database' | `volume:${string}`;

export interface RestoreInput {
  target: RestoreTarget;
  type: RestoreType;
  into?: string;
  inPlace?: boolean;
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

/** Creates the clone's deployment row (managedBy 'clone') with the original's database passwords. */
export async function createClone(deps: BackupDeps, key: string, name: string): Promise<string> {
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
  // The clone runs the release the original runs (a rollout may have moved it past the working tree).
  await deps.store.setTargetRelease(cloneKey, row.targetRelease);
  // The restored cluster keeps the original's role passwords: the clone must know them.
  for (const secret of ['pg-admin', 'pg-workload', 'pg-operator']) {
    const value = await deps.store.getSecret(key, secret);
    if (value !== undefined) await deps.store.putSecret(cloneKey, secret, value);
  }
  return cloneKey;
}

const owner = async () => {
  const user = await postgresOsUser();
  return user.switchUser ? { uid: user.uid, gid: user.gid } : undefined;
};

/**
 * Puts the files of a base backup in place of `<cluster>/data`. In place, the current data dir is moved to
 * `data.before-restore` first (kept until the restore succeeded); a resumed step finds it there.
 */
export async function restoreDatabaseFiles(
  deps: BackupDeps,
  sourceKey: string,
  cluster: PostgresCluster,
  backupId: string,
  keepOld: boolean,
): Promise<string> {
  const dir = cluster.options.dir;
  const data = join(dir, 'data');
  const aside = join(dir, 'data.before-restore');
  const staging = join(dir, 'data.restoring');
  if (await cluster.isRunning()) {
    throw new PreconditionFailedError(
      `PostgreSQL of ${cluster.options.name} still runs; it must be stopped to restore.`,
    );
  }
  await mkdir(dir, { recursive: true, mode: 0o711 });
  if (keepOld && existsSync(data) && !existsSync(aside)) await rename(data, aside);
  const o = await owner();
  const manifest = await restoreBaseBackup({
    repository: repositoryOf(deps.dataDir, sourceKey),
    id: backupId,
    targetDir: staging,
    ...(o ? { owner: o } : {}),
  });
  await rm(data, { recursive: true, force: true });
  await rename(staging, data);
  return `${manifest.files.length} files of ${backupId} restored and verified`;
}

/** Starts the restored cluster in recovery to the target, waits until it promoted, then finishes setup. */
export async function recoverCluster(
  deps: BackupDeps,
  sourceKey: string,
  cluster: PostgresCluster,
  target: RestoreTarget,
  ctx: StepContext,
  fromWal?: string,
): Promise<string> {
  const data = join(cluster.options.dir, 'data');
  const archiveDir = localOf(deps.runtime).paths(sourceKey).archive;
  const recovering = existsSync(join(data, 'recovery.signal'));
  if (recovering && !(await cluster.isRunning()) && fromWal !== undefined) {
    // Check the stored checksums of the WAL this restore reads before starting: a damaged file is named
    // now. (fetch-wal checks every file again, fully, as recovery reads it, and aborts on a mismatch.)
    const segments = (await listArchivedWal(archiveDir)).filter(
      (s) => s.name.length === 24 && s.name.slice(8) >= fromWal.slice(8),
    );
    for (const s of segments) {
      const stored = await readFile(join(archiveDir, `${s.name}.gz`));
      const info = JSON.parse(await readFile(join(archiveDir, `${s.name}.gz.json`), 'utf8')) as {
        storedSha256?: string;
      };
      if (createHash('sha256').update(stored).digest('hex') !== info.storedSha256) {
        throw new PreconditionFailedError(
          `The WAL archive of ${sourceKey} has a corrupt file: ${s.name}.gz (its sha256 does not match ${s.name}.gz.json); refusing to restore past it. Restore to a time before it, or from a newer backup.`,
          { details: { file: `${s.name}.gz` } },
        );
      }
    }
  }
  if (!existsSync(join(data, 'backup_label')) && !recovering) {
    await cluster.ensure();
    return 'already recovered';
  }
  await cluster.configure();
  if (!(await cluster.isRunning())) {
    const o = await owner();
    await writeRecoveryConfig({ dataDir: data, archiveDir, target, ...(o ? { owner: o } : {}) });
    await ctx.log(`starting PostgreSQL in recovery ${describe(target)}`);
    await cluster.start();
  }
  await waitForRecovery({
    inRecovery: async () => (await cluster.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]!.r,
    isRunning: () => cluster.isRunning(),
    logFile: join(cluster.options.dir, 'run', 'postgres.log'),
  });
  for (const sql of CLEAR_RECOVERY_SQL) await cluster.query(sql);
  await removeWalSpool(data);
  await cluster.ensure();
  const [tl] = await cluster.query<{ tl: number; at: Date }>(
    'SELECT timeline_id AS tl, now() AS at FROM pg_control_checkpoint()',
  );
  return `recovered ${describe(target)}; promoted (timeline ${tl?.tl ?? '?'})`;
}

export async function restoreVolumes(
  deps: BackupDeps,
  sourceKey: string,
  targetKey: string,
  snapshots: Record<string, string>,
): Promise<string> {
  const local = localOf(deps.runtime);
  const done: string[] = [];
  for (const [volume, id] of Object.entries(snapshots)) {
    const dir = join(local.paths(targetKey).volumes, volume);
    await mkdir(local.paths(targetKey).volumes, { recursive: true });
    await restoreVolume({ repository: repositoryOf(deps.dataDir, sourceKey), id, dir });
    done.push(`${volume} ← ${id}`);
  }
  return done.length ? done.join(', ') : 'no volumes to restore';
}

/** After a failed in-place restore: puts the data dir from before the restore back and starts it. */
export async function putBackOldData(cluster: PostgresCluster): Promise<boolean> {
  const dir = cluster.options.dir;
  const aside = join(dir, 'data.before-restore');
  if (!existsSync(aside)) return false;
  await cluster.stop('immediate').catch(() => undefined);
  await rm(join(dir, 'data'), { recursive: true, force: true });
  await rename(aside, join(dir, 'data'));
  await cluster.ensure();
  return true;
}

export { isGood };
