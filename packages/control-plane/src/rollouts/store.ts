/** Rollout state in the control plane's database: pipelines, stages, history. Plain SQL. */
import type { RolloutAction, RolloutOutcome, RolloutRecord } from '@msp/core';
import type { Db } from '../state/db.js';
import { migrationsBeside, type MigrationSet } from '../state/migrate.js';
import type { TargetRelease } from '../state/store.js';

/** The rollouts module's tables; 001 was core's 004_rollouts.sql before modules owned their migrations. */
export const ROLLOUT_MIGRATIONS: MigrationSet = {
  module: 'rollouts',
  folder: migrationsBeside(import.meta.url),
  formerly: { '001_rollouts.sql': '004_rollouts.sql' },
};

/** A release a stage runs: its version and what the runtime deploys (null: the working tree). */
export interface StageRelease {
  version: string;
  target: TargetRelease | null;
}

export interface StageState {
  environment: string;
  current: StageRelease | null;
  previous: StageRelease | null;
  updatedAt: string;
}

export interface RolloutStore {
  suspendedOverride(service: string): Promise<boolean | null>;
  setSuspended(service: string, suspended: boolean | null, by: string): Promise<void>;
  stages(service: string): Promise<Map<string, StageState>>;
  setStage(
    service: string,
    environment: string,
    current: StageRelease,
    previous: StageRelease | null,
  ): Promise<void>;
  /** Starts the record of an operation (idempotent: one record per operation). */
  begin(r: {
    service: string;
    action: RolloutAction;
    version: string;
    fromEnvironment: string | null;
    toEnvironment: string;
    previousVersion: string | null;
    actor: string;
    operationId: string;
    startedAt: string;
  }): Promise<void>;
  finish(operationId: string, outcome: RolloutOutcome, reason: string | null): Promise<void>;
  history(service: string, limit?: number): Promise<RolloutRecord[]>;
}

const iso = (v: unknown): string | null =>
  v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : null;

export function createRolloutStore(db: Db): RolloutStore {
  return {
    async suspendedOverride(service) {
      const r = await db.query<{ suspended: boolean | null }>(
        'select suspended from rollout_pipelines where service = $1',
        [service],
      );
      return r.rows[0]?.suspended ?? null;
    },
    async setSuspended(service, suspended, by) {
      await db.query(
        `insert into rollout_pipelines (service, suspended, changed_by) values ($1, $2, $3)
         on conflict (service) do update set suspended = excluded.suspended, changed_by = excluded.changed_by,
           changed_at = now()`,
        [service, suspended, by],
      );
    },
    async stages(service) {
      const r = await db.query('select * from rollout_stages where service = $1', [service]);
      return new Map(
        r.rows.map((row: Record<string, unknown>) => [
          row.environment as string,
          {
            environment: row.environment as string,
            current: (row.current as StageRelease | null) ?? null,
            previous: (row.previous as StageRelease | null) ?? null,
            updatedAt: iso(row.updated_at)!,
          },
        ]),
      );
    },
    async setStage(service, environment, current, previous) {
      await db.query(
        `insert into rollout_stages (service, environment, current, previous) values ($1, $2, $3, $4)
         on conflict (service, environment) do update set current = excluded.current,
           previous = excluded.previous, updated_at = now()`,
        [service, environment, JSON.stringify(current), previous ? JSON.stringify(previous) : null],
      );
    },
    async begin(r) {
      await db.query(
        `insert into rollout_history (service, action, version, from_environment, to_environment,
           previous_version, actor, operation_id, started_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) on conflict (operation_id) do nothing`,
        [
          r.service,
          r.action,
          r.version,
          r.fromEnvironment,
          r.toEnvironment,
          r.previousVersion,
          r.actor,
          r.operationId,
          r.startedAt,
        ],
      );
    },
    async finish(operationId, outcome, reason) {
      await db.query(
        `update rollout_history set outcome = $2, reason = $3, finished_at = now()
         where operation_id = $1 and finished_at is null`,
        [operationId, outcome, reason],
      );
    },
    async history(service, limit = 100) {
      const r = await db.query('select * from rollout_history where service = $1 order by id desc limit $2', [
        service,
        limit,
      ]);
      return r.rows.map((row: Record<string, unknown>): RolloutRecord => ({
        id: Number(row.id),
        service: row.service as string,
        action: row.action as RolloutAction,
        version: row.version as string,
        fromEnvironment: (row.from_environment as string | null) ?? null,
        toEnvironment: row.to_environment as string,
        previousVersion: (row.previous_version as string | null) ?? null,
        actor: row.actor as string,
        startedAt: iso(row.started_at)!,
        finishedAt: iso(row.finished_at),
        outcome: row.outcome as RolloutOutcome,
        reason: (row.reason as string | null) ?? null,
        operationId: (row.operation_id as string | null) ?? null,
      }));
    },
  };
}
