/**
 * The backup work shared by operations and other features: taking a backup (base backup + volume
 * snapshots, verified) through the deployment's runtime target, and the recoverable window of a deployment.
 * The target stores the files; the backups table here says what exists and whether it is good.
 */
import {
  incrementalParentOf,
  PreconditionFailedError,
  recoverableWindow,
  volumesOf,
  type BackupKind,
  type DeploymentSpec,
  type RecoverableWindow,
} from '@msp/core';
import type { ArchivedSegment } from '../runtime-port.js';
import type { StateStore } from '../state/store.js';
import type { RuntimeTargets } from '../targets/registry.js';
import type { BackupStore } from './store.js';

export interface BackupDeps {
  store: StateStore;
  backups: BackupStore;
  /** Each deployment's runtime target: its databases and volumes capabilities. */
  targets: RuntimeTargets;
  log?: (line: string) => void;
}

/** A backup id that a resumed operation computes again identically. */
export function backupIdFor(operation: { id: string; createdAt: string }): string {
  const at = operation.createdAt.replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${at}-${operation.id.slice(0, 6)}`;
}

export interface TakenBackup {
  backupId: string | null;
  snapshots: Record<string, string>;
}

/**
 * Takes a base backup of the deployment's PostgreSQL (when it has one) and a snapshot of each volume,
 * then verifies them; records everything in the backups table. Call it as a step of your own operation
 * (e.g. a pre-upgrade backup): it is idempotent for the same `id`.
 */
export async function takeBackup(
  deps: BackupDeps,
  key: string,
  options: {
    kind: BackupKind;
    reason: string;
    id: string;
    operationId?: string;
    log?: (message: string) => Promise<void> | void;
  },
): Promise<TakenBackup> {
  const target = await deps.targets.of(key);
  const row = await deps.store.requireDeployment(key);
  const spec = row.spec as DeploymentSpec;
  const log = async (m: string) => {
    await options.log?.(m);
  };
  const result: TakenBackup = { backupId: null, snapshots: {} };
  if (await target.databases.describe(key)) {
    const id = `${options.id}-base`;
    await deps.backups.begin({
      id,
      deploymentKey: key,
      type: 'base',
      kind: options.kind,
      reason: options.reason,
      ...(options.operationId ? { operationId: options.operationId } : {}),
    });
    try {
      const started = Date.now();
      // Scheduled backups: a full one weekly, incrementals on the newest good base backup in between.
      const parent =
        options.kind === 'scheduled'
          ? incrementalParentOf(
              (await deps.backups.list(key)).filter((b) => b.id !== id),
              new Date(),
            )
          : undefined;
      // Scheduled backups may spread their checkpoint; one somebody waits for (on-demand, pre-upgrade) may not.
      const taken = await target.databases.baseBackup(key, {
        id,
        label: `msp ${key} ${id}`,
        fast: options.kind !== 'scheduled',
        ...(parent ? { incrementalOf: parent } : {}),
      });
      await deps.backups.succeed(id, {
        finishedAt: taken.finishedAt,
        rawBytes: taken.rawBytes,
        storedBytes: taken.storedBytes,
        timeline: taken.timeline,
        startLsn: taken.startLsn,
        stopLsn: taken.stopLsn,
        startWal: taken.startWal,
        stopWal: taken.stopWal,
        manifest: taken.manifest,
      });
      await deps.backups.recordVerification(id, taken.problems);
      if (taken.problems.length > 0) {
        throw new PreconditionFailedError(
          `Base backup ${id} failed verification: ${taken.problems.map((p) => `${p.file}: ${p.problem}`).join('; ')}`,
        );
      }
      await log(
        `${taken.references ? `incremental (on ${taken.references.join(', ')}) ` : ''}` +
          `base backup ${id}: ${taken.files} files, ${mb(taken.rawBytes)} → ${mb(taken.storedBytes)} ` +
          `in ${((Date.now() - started) / 1000).toFixed(1)} s, WAL ${taken.startWal}..${taken.stopWal}, verified`,
      );
      result.backupId = id;
    } catch (error) {
      const current = await deps.backups.get(id);
      if (current?.status === 'running') await deps.backups.fail(id, (error as Error).message);
      throw error;
    }
  }
  for (const volume of volumesOf(spec)) {
    const id = `${options.id}-vol-${volume}`;
    await deps.backups.begin({
      id,
      deploymentKey: key,
      type: 'volume',
      kind: options.kind,
      volume,
      reason: options.reason,
      ...(options.operationId ? { operationId: options.operationId } : {}),
    });
    try {
      const m = await target.volumes.snapshot(key, { volume, id });
      await deps.backups.succeed(id, {
        finishedAt: m.takenAt,
        storedBytes: m.storedBytes,
        manifest: m.manifest,
      });
      await deps.backups.recordVerification(id, m.problems);
      await log(`volume ${volume}: snapshot ${id}, ${mb(m.storedBytes)}`);
      result.snapshots[volume] = id;
    } catch (error) {
      await deps.backups.fail(id, (error as Error).message);
      throw error;
    }
  }
  return result;
}

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export interface BackupHealth {
  window: RecoverableWindow | null;
  lastGoodBaseBackup: { id: string; finishedAt: string; ageSeconds: number } | null;
  lastArchivedWal: { name: string; walEndTime: string; archivedAt: string; ageSeconds: number } | null;
  archivedSegments: number;
}

export async function backupHealth(
  deps: BackupDeps,
  key: string,
  now = new Date(),
): Promise<BackupHealth & { segments: ArchivedSegment[] }> {
  const target = await deps.targets.of(key);
  const rows = await deps.backups.list(key);
  const segments = await target.databases.walArchive(key);
  const window = recoverableWindow(
    rows,
    segments.map((s) => ({ name: s.name, walEndTime: s.walEndTime })),
  );
  const good = rows
    .filter((r) => r.type === 'base' && r.status === 'succeeded' && r.verifyOk !== false && r.finishedAt)
    .sort((a, b) => b.finishedAt!.localeCompare(a.finishedAt!))[0];
  const newest = [...segments].sort((a, b) => b.archivedAt.localeCompare(a.archivedAt))[0];
  const age = (t: string) => Math.max(0, Math.round((now.getTime() - Date.parse(t)) / 1000));
  return {
    window: window ?? null,
    lastGoodBaseBackup: good
      ? { id: good.id, finishedAt: good.finishedAt!, ageSeconds: age(good.finishedAt!) }
      : null,
    lastArchivedWal: newest
      ? {
          name: newest.name,
          walEndTime: newest.walEndTime,
          archivedAt: newest.archivedAt,
          ageSeconds: age(newest.archivedAt),
        }
      : null,
    archivedSegments: segments.length,
    segments,
  };
}
