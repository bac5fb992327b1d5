/** The backups' tables (migrations/): backups with their manifests, verifications and restore drills. */
import type { BackupKind, BackupRecord, BackupStatus, BackupType } from '@msp/core';
import type { Db } from '../state/db.js';
import { migrationsBeside, type MigrationSet } from '../state/migrate.js';

/** The backups module's tables; 001 was core's 003_backups.sql before modules owned their migrations. */
export const BACKUP_MIGRATIONS: MigrationSet = {
  module: 'backups',
  folder: migrationsBeside(import.meta.url),
  formerly: { '001_backups.sql': '003_backups.sql' },
};

export interface BackupRow extends BackupRecord {
  readonly deploymentKey: string;
  readonly reason: string;
  readonly operationId: string | null;
  readonly rawBytes: number | null;
  readonly storedBytes: number | null;
  readonly timeline: number | null;
  readonly startLsn: string | null;
  readonly stopLsn: string | null;
  readonly error: string | null;
  readonly verifiedAt: string | null;
  readonly verifyOk: boolean | null;
  readonly verifyProblems: { file: string; problem: string }[] | null;
}

export interface DrillRow {
  id: number;
  deploymentKey: string;
  backupId: string | null;
  startedAt: string;
  finishedAt: string | null;
  ok: boolean | null;
  detail: Record<string, unknown>;
}

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toBackup(r: Record<string, unknown>): BackupRow {
  return {
    id: r.id as string,
    deploymentKey: r.deployment_key as string,
    type: r.type as BackupType,
    kind: r.kind as BackupKind,
    status: r.status as BackupStatus,
    ...(r.volume ? { volume: r.volume as string } : {}),
    reason: r.reason as string,
    operationId: (r.operation_id as string | null) ?? null,
    startedAt: iso(r.started_at),
    ...(r.finished_at ? { finishedAt: iso(r.finished_at) } : {}),
    ...(r.start_wal ? { startWal: r.start_wal as string } : {}),
    ...(r.stop_wal ? { stopWal: r.stop_wal as string } : {}),
    ...(r.verify_ok === false ? { verifyFailed: true } : {}),
    ...(Array.isArray(r.references_ids) && r.references_ids.length > 0
      ? { references: r.references_ids as string[] }
      : {}),
    rawBytes: num(r.raw_bytes),
    storedBytes: num(r.stored_bytes),
    timeline: num(r.timeline),
    startLsn: (r.start_lsn as string | null) ?? null,
    stopLsn: (r.stop_lsn as string | null) ?? null,
    error: (r.error as string | null) ?? null,
    verifiedAt: r.verified_at ? iso(r.verified_at) : null,
    verifyOk: (r.verify_ok as boolean | null) ?? null,
    verifyProblems: (r.verify_problems as BackupRow['verifyProblems']) ?? null,
  };
}

const COLUMNS = `id, deployment_key, type, kind, volume, status, reason, operation_id, started_at, finished_at,
  raw_bytes, stored_bytes, timeline, start_lsn, stop_lsn, start_wal, stop_wal, error, verified_at, verify_ok,
  verify_problems, manifest->'incremental'->'references' AS references_ids`;

export interface BackupStore {
  begin(b: {
    id: string;
    deploymentKey: string;
    type: BackupType;
    kind: BackupKind;
    volume?: string;
    reason: string;
    operationId?: string;
  }): Promise<void>;
  succeed(
    id: string,
    r: {
      finishedAt: string;
      rawBytes?: number;
      storedBytes: number;
      timeline?: number;
      startLsn?: string;
      stopLsn?: string;
      startWal?: string;
      stopWal?: string;
      manifest: unknown;
    },
  ): Promise<void>;
  fail(id: string, error: string): Promise<void>;
  recordVerification(id: string, problems: { file: string; problem: string }[]): Promise<void>;
  get(id: string): Promise<BackupRow | undefined>;
  list(deploymentKey: string): Promise<BackupRow[]>;
  remove(id: string): Promise<void>;
  startDrill(d: { deploymentKey: string; backupId: string; operationId: string }): Promise<number>;
  finishDrill(id: number, ok: boolean, detail: Record<string, unknown>): Promise<void>;
  listDrills(deploymentKey: string, limit?: number): Promise<DrillRow[]>;
}

export function createBackupStore(db: Db): BackupStore {
  return {
    async begin(b) {
      // A resumed operation begins the same backup again: it is running again, from scratch.
      await db.query(
        `insert into backups (id, deployment_key, type, kind, volume, status, reason, operation_id)
         values ($1, $2, $3, $4, $5, 'running', $6, $7)
         on conflict (id) do update set status = 'running', error = null, started_at = now(), finished_at = null`,
        [b.id, b.deploymentKey, b.type, b.kind, b.volume ?? null, b.reason, b.operationId ?? null],
      );
    },
    async succeed(id, r) {
      await db.query(
        `update backups set status = 'succeeded', finished_at = $2, raw_bytes = $3, stored_bytes = $4, timeline = $5,
           start_lsn = $6, stop_lsn = $7, start_wal = $8, stop_wal = $9, manifest = $10, error = null
         where id = $1`,
        [
          id,
          r.finishedAt,
          r.rawBytes ?? null,
          r.storedBytes,
          r.timeline ?? null,
          r.startLsn ?? null,
          r.stopLsn ?? null,
          r.startWal ?? null,
          r.stopWal ?? null,
          JSON.stringify(r.manifest),
        ],
      );
    },
    async fail(id, error) {
      await db.query(`update backups set status = 'failed', error = $2, finished_at = now() where id = $1`, [
        id,
        error,
      ]);
    },
    async recordVerification(id, problems) {
      await db.query(
        'update backups set verified_at = now(), verify_ok = $2, verify_problems = $3 where id = $1',
        [id, problems.length === 0, JSON.stringify(problems)],
      );
    },
    async get(id) {
      const r = await db.query(`select ${COLUMNS} from backups where id = $1`, [id]);
      return r.rows[0] ? toBackup(r.rows[0]) : undefined;
    },
    async list(deploymentKey) {
      const r = await db.query(
        `select ${COLUMNS} from backups where deployment_key = $1 order by started_at desc`,
        [deploymentKey],
      );
      return r.rows.map((row) => toBackup(row));
    },
    async remove(id) {
      await db.query('delete from backups where id = $1', [id]);
    },
    async startDrill(d) {
      const r = await db.query<{ id: string }>(
        'insert into backup_drills (deployment_key, backup_id, operation_id) values ($1, $2, $3) returning id',
        [d.deploymentKey, d.backupId, d.operationId],
      );
      return Number(r.rows[0]!.id);
    },
    async finishDrill(id, ok, detail) {
      await db.query('update backup_drills set finished_at = now(), ok = $2, detail = $3 where id = $1', [
        id,
        ok,
        JSON.stringify(detail),
      ]);
    },
    async listDrills(deploymentKey, limit = 10) {
      const r = await db.query(
        'select * from backup_drills where deployment_key = $1 order by started_at desc limit $2',
        [deploymentKey, limit],
      );
      return r.rows.map((row: Record<string, unknown>) => ({
        id: Number(row.id),
        deploymentKey: row.deployment_key as string,
        backupId: (row.backup_id as string | null) ?? null,
        startedAt: iso(row.started_at),
        finishedAt: row.finished_at ? iso(row.finished_at) : null,
        ok: (row.ok as boolean | null) ?? null,
        detail: row.detail as Record<string, unknown>,
      }));
    },
  };
}
