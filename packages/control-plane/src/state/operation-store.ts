/**
 * Operations in the state store: their rows, leases and logs. A checkpoint (saveOperation) is written only
 * by the lease holder of the attempt it belongs to: the update is conditional on the lease owner and the
 * attempt, so a control plane that lost its lease gets a LeaseLostError instead of overwriting the
 * checkpoints of the one that took over.
 */
import type { Pool } from 'pg';
import type { ErrorCode, Operation, OperationKind, OperationStep } from '@msp/core';
import { ConflictError } from '@msp/core';
import { LeaseLostError } from '../operations/lease.js';

export interface OperationLogLine {
  at: string;
  level: string;
  message: string;
}

export interface OperationStore {
  createOperation(op: Operation): Promise<Operation>;
  getOperation(id: string): Promise<Operation | undefined>;
  listOperations(filter?: {
    deploymentKey?: string;
    limit?: number;
    unfinished?: boolean;
  }): Promise<Operation[]>;
  /**
   * Checkpoints the operation (status, steps, result, error) as `owner`, which must hold its lease for
   * `op.attempt`; throws LeaseLostError (and writes nothing) otherwise.
   */
  saveOperation(op: Operation, owner: string): Promise<void>;
  /** Takes the lease of an unfinished operation whose lease is free, expired or already ours; a new attempt. */
  acquireLease(id: string, owner: string, seconds: number): Promise<Operation | undefined>;
  renewLease(id: string, owner: string, seconds: number): Promise<boolean>;
  releaseLease(id: string, owner: string): Promise<void>;
  /**
   * Unfinished operations nobody works on: their lease ran out (the owner died or is paused), or they were
   * queued more than `queuedForSeconds` ago and never leased (their job was lost, e.g. sent while the state
   * database was down). Someone should take them over.
   */
  listStranded(queuedForSeconds: number): Promise<string[]>;
  appendLog(id: string, level: 'info' | 'warn' | 'error', message: string): Promise<void>;
  readLog(id: string): Promise<OperationLogLine[]>;
}

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

function toOperation(r: Record<string, unknown>): Operation {
  return {
    id: r.id as string,
    kind: r.kind as OperationKind,
    deploymentKey: r.deployment_key as string,
    status: r.status as Operation['status'],
    steps: r.steps as OperationStep[],
    reason: r.reason as string,
    createdBy: r.created_by as string,
    createdAt: iso(r.created_at),
    ...(r.started_at ? { startedAt: iso(r.started_at) } : {}),
    ...(r.finished_at ? { finishedAt: iso(r.finished_at) } : {}),
    ...(r.error ? { error: r.error as string } : {}),
    ...(r.error_code ? { errorCode: r.error_code as ErrorCode } : {}),
    ...(typeof r.retryable === 'boolean' ? { retryable: r.retryable } : {}),
    attempt: r.attempt as number,
    input: (r.input as Record<string, unknown> | null) ?? {},
    ...(r.result ? { result: r.result as Record<string, unknown> } : {}),
  };
}

export function createOperationStore(db: { query: Pool['query'] }): OperationStore {
  const one = async (sql: string, params: unknown[] = []) =>
    (await db.query(sql, params)).rows[0] as Record<string, unknown> | undefined;
  const all = async (sql: string, params: unknown[] = []) =>
    (await db.query(sql, params)).rows as Record<string, unknown>[];

  return {
    async createOperation(op) {
      try {
        const row = await one(
          `insert into operations (id, kind, deployment_key, status, steps, reason, created_by, attempt, input)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning *`,
          [
            op.id,
            op.kind,
            op.deploymentKey,
            op.status,
            JSON.stringify(op.steps),
            op.reason,
            op.createdBy,
            op.attempt,
            JSON.stringify(op.input),
          ],
        );
        return toOperation(row!);
      } catch (error) {
        if ((error as { code?: string }).code === '23505') {
          throw new ConflictError(
            `Deployment '${op.deploymentKey}' already has an operation in progress; wait for it (\`msp operations list\`).`,
            { cause: error },
          );
        }
        throw error;
      }
    },
    async getOperation(id) {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
      const row = await one('select * from operations where id = $1', [id]);
      return row ? toOperation(row) : undefined;
    },
    async listOperations(filter = {}) {
      const rows = await all(
        `select * from operations
         where ($1::text is null or deployment_key = $1)
           and (not $2 or status in ('queued', 'running'))
         order by created_at desc limit $3`,
        [filter.deploymentKey ?? null, filter.unfinished ?? false, filter.limit ?? 100],
      );
      return rows.map(toOperation);
    },
    async saveOperation(op, owner) {
      const r = await db.query(
        `update operations set status = $2, steps = $3, started_at = $4, finished_at = $5, error = $6,
           result = $7, error_code = $8, retryable = $9
         where id = $1 and lease_owner = $10 and attempt = $11`,
        [
          op.id,
          op.status,
          JSON.stringify(op.steps),
          op.startedAt ?? null,
          op.finishedAt ?? null,
          op.error ?? null,
          op.result ? JSON.stringify(op.result) : null,
          op.errorCode ?? null,
          op.retryable ?? null,
          owner,
          op.attempt,
        ],
      );
      if ((r.rowCount ?? 0) > 0) return;
      const now = await one('select status, attempt, lease_owner from operations where id = $1', [op.id]);
      const heldBy = (now?.lease_owner as string | null | undefined) ?? null;
      throw new LeaseLostError(
        op.id,
        owner,
        now
          ? `its checkpoint of attempt ${op.attempt} was refused: attempt ${String(now.attempt)} ` +
              `${heldBy ? `is held by ${heldBy}` : 'holds no lease'} and the operation is ${String(now.status)}`
          : 'its checkpoint was refused: the operation no longer exists',
        { heldBy },
      );
    },
    async acquireLease(id, owner, seconds) {
      const row = await one(
        `update operations set lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3),
           attempt = attempt + 1
         where id = $1 and status in ('queued', 'running')
           and (lease_owner is null or lease_owner = $2 or lease_expires_at < now())
         returning *`,
        [id, owner, seconds],
      );
      return row ? toOperation(row) : undefined;
    },
    async renewLease(id, owner, seconds) {
      const r = await db.query(
        `update operations set lease_expires_at = now() + make_interval(secs => $3)
         where id = $1 and lease_owner = $2`,
        [id, owner, seconds],
      );
      return (r.rowCount ?? 0) > 0;
    },
    async releaseLease(id, owner) {
      await db.query(
        'update operations set lease_owner = null, lease_expires_at = null where id = $1 and lease_owner = $2',
        [id, owner],
      );
    },
    async listStranded(queuedForSeconds) {
      const rows = await all(
        `select id from operations
          where status in ('queued', 'running')
            and (lease_expires_at < now()
                 or (lease_owner is null and status = 'queued'
                     and created_at < now() - make_interval(secs => $1)))
          order by coalesce(lease_expires_at, created_at) limit 1000`,
        [queuedForSeconds],
      );
      return rows.map((r) => r.id as string);
    },
    async appendLog(id, level, message) {
      await db.query('insert into operation_logs (operation_id, level, message) values ($1, $2, $3)', [
        id,
        level,
        message,
      ]);
    },
    async readLog(id) {
      return (
        await all('select at, level, message from operation_logs where operation_id = $1 order by id', [id])
      ).map((r) => ({ at: iso(r.at), level: r.level as string, message: r.message as string }));
    },
  };
}
