/**
 * The backup work shared by operations and other features: taking a backup (base backup + volume
 * snapshots, verified), the recoverable window of a deployment, and where its repository lives.
 */
import { join } from 'node:path';
import {
  PreconditionFailedError,
  parseWalSegment,
  recoverableWindow,
  walSegmentName,
  type BackupKind,
  type RecoverableWindow,
} from '@msp/core';
import {
  createDirectoryRepository,
  listArchivedWal,
  snapshotVolume,
  takeBaseBackup,
  verifyArchivedWal,
  verifyBaseBackup,
  verifyVolumeSnapshot,
  type ArchivedWal,
  type BackupRepository,
} from '@msp/runtime-local';
import { slugOf, type DataDir } from '../data-dir.js';
import type { DeploymentSpec } from '../reconciler.js';
import type { LocalResources, RuntimeTarget } from '../runtime-port.js';
import type { StateStore } from '../state/store.js';
import type { BackupStore } from './store.js';

export interface BackupDeps {
  store: StateStore;
  backups: BackupStore;
  runtime: RuntimeTarget;
  dataDir: DataDir;
  log?: (line: string) => void;
}

export function repositoryOf(dataDir: DataDir, key: string): BackupRepository {
  return createDirectoryRepository(join(dataDir.root, 'backups', slugOf(key)));
}

export function localOf(runtime: RuntimeTarget): LocalResources {
  if (!runtime.local) {
    throw new PreconditionFailedError(
      `Backups run on the local runtime only; the ${runtime.name} target backs up through its platform.`,
    );
  }
  return runtime.local;
}

export function volumesOf(spec: DeploymentSpec): string[] {
  return (spec.environment.resources?.volumes ?? []).map((v) => v.name);
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
  const local = localOf(deps.runtime);
  const row = await deps.store.requireDeployment(key);
  const spec = row.spec as DeploymentSpec;
  const repository = repositoryOf(deps.dataDir, key);
  const log = async (m: string) => {
    await options.log?.(m);
  };
  const result: TakenBackup = { backupId: null, snapshots: {} };
  const cluster = await local.database(key);
  if (cluster) {
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
      if (!(await cluster.isRunning())) await cluster.ensure();
      const started = Date.now();
      const manifest = await takeBaseBackup({
        repository,
        id,
        label: `msp ${key} ${id}`,
        connection: cluster.connectionConfig('admin', 'postgres'),
        dataDir: join(cluster.options.dir, 'data'),
      });
      const check = await verifyBaseBackup(repository, id);
      const wal = await verifyArchivedWal(
        cluster.options.archiveDir,
        walSegmentRange(manifest.startWal, manifest.stopWal, manifest.walSegmentSize),
      );
      const problems = [...check.problems, ...wal];
      await deps.backups.succeed(id, {
        finishedAt: manifest.stopTime,
        rawBytes: manifest.rawBytes,
        storedBytes: manifest.storedBytes,
        timeline: manifest.timeline,
        startLsn: manifest.startLsn,
        stopLsn: manifest.stopLsn,
        startWal: manifest.startWal,
        stopWal: manifest.stopWal,
        manifest,
      });
      await deps.backups.recordVerification(id, problems);
      if (problems.length > 0) {
        throw new PreconditionFailedError(
          `Base backup ${id} failed verification: ${problems.map((p) => `${p.file}: ${p.problem}`).join('; ')}`,
        );
      }
      await log(
        `base backup ${id}: ${manifest.files.length} files, ${mb(manifest.rawBytes)} → ${mb(manifest.storedBytes)} ` +
          `in ${((Date.now() - started) / 1000).toFixed(1)} s, WAL ${manifest.startWal}..${manifest.stopWal}, verified`,
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
      const m = await snapshotVolume({ repository, id, volume, dir: join(local.paths(key).volumes, volume) });
      const check = await verifyVolumeSnapshot(repository, id);
      await deps.backups.succeed(id, { finishedAt: m.takenAt, storedBytes: m.storedBytes, manifest: m });
      await deps.backups.recordVerification(id, check.problems);
      await log(`volume ${volume}: snapshot ${id}, ${mb(m.storedBytes)}`);
      result.snapshots[volume] = id;
    } catch (error) {
      await deps.backups.fail(id, (error as Error).message);
      throw error;
    }
  }
  return result;
}

/** The WAL segment names from `start` to `stop` (on start's timeline). */
export function walSegmentRange(start: string, stop: string, segmentSize = 16 * 1024 * 1024): string[] {
  const a = parseWalSegment(start, segmentSize);
  const b = parseWalSegment(stop, segmentSize);
  const out: string[] = [];
  for (let n = a.segno; n <= b.segno; n++) out.push(walSegmentName(a.timeline, n, segmentSize));
  return out;
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
): Promise<BackupHealth & { segments: ArchivedWal[] }> {
  const local = localOf(deps.runtime);
  const rows = await deps.backups.list(key);
  const segments = (await listArchivedWal(local.paths(key).archive)).filter((s) =>
    /^[0-9A-F]{24}$/.test(s.name),
  );
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
