/**
 * The control plane's state store: deployments, operations with their steps and logs (operation-store.ts),
 * secrets, tokens and events, in PostgreSQL. All SQL lives here; callers get plain objects.
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { NotFoundError } from '@msp/core';
import type { SecretBox } from '../secrets.js';
import { createOperationStore, type OperationStore } from './operation-store.js';
import { guardedQuery } from './unavailable.js';

export type { OperationLogLine, OperationStore } from './operation-store.js';

export interface DeploymentRow {
  key: string;
  kind: 'service' | 'instance';
  service: string;
  environment: string;
  instance: string | null;
  spec: unknown;
  specHash: string;
  appliedHash: string | null;
  desiredState: 'running' | 'stopped' | 'deleted';
  status: string;
  statusDetail: string | null;
  release: string | null;
  ports: Record<string, number>;
  restarts: number;
  /** 'repo' when declared in the platform repo; 'clone' for restore clones (the reconciler leaves those alone). */
  managedBy: string;
  /** The release this deployment should run, set by rollouts; null runs the working tree (build.local). */
  targetRelease: TargetRelease | null;
  createdAt: string;
  updatedAt: string;
}

export interface TargetRelease {
  version: string;
  /** Content address of the release bundle, e.g. "sha256:…"; absent runs build.local at that version. */
  artifact?: { digest: string; url?: string };
}

export interface EventRow {
  id: number;
  at: string;
  deploymentKey: string | null;
  kind: string;
  message: string;
  data: Record<string, unknown>;
}

interface Queryable {
  query: Pool['query'];
}

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

function toDeployment(r: Record<string, unknown>): DeploymentRow {
  return {
    key: r.key as string,
    kind: r.kind as 'service' | 'instance',
    service: r.service as string,
    environment: r.environment as string,
    instance: (r.instance as string | null) ?? null,
    spec: r.spec,
    specHash: r.spec_hash as string,
    appliedHash: (r.applied_hash as string | null) ?? null,
    desiredState: r.desired_state as DeploymentRow['desiredState'],
    status: r.status as string,
    statusDetail: (r.status_detail as string | null) ?? null,
    release: (r.release as string | null) ?? null,
    ports: r.ports as Record<string, number>,
    restarts: r.restarts as number,
    managedBy: (r.managed_by as string | null) ?? 'repo',
    targetRelease: (r.target_release as TargetRelease | null) ?? null,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export interface StateStore extends OperationStore {
  readonly pool: Pool;
  // deployments
  upsertDeployment(d: {
    key: string;
    kind: 'service' | 'instance';
    service: string;
    environment: string;
    instance?: string;
    spec: unknown;
    specHash: string;
    managedBy?: string;
  }): Promise<DeploymentRow>;
  setTargetRelease(key: string, release: TargetRelease | null): Promise<void>;
  getDeployment(key: string): Promise<DeploymentRow | undefined>;
  requireDeployment(key: string): Promise<DeploymentRow>;
  listDeployments(): Promise<DeploymentRow[]>;
  setDesiredState(key: string, state: DeploymentRow['desiredState']): Promise<void>;
  setStatus(key: string, status: string, detail?: string | null, release?: string | null): Promise<void>;
  markApplied(key: string, specHash: string): Promise<void>;
  setPorts(key: string, ports: Record<string, number>): Promise<void>;
  addRestart(key: string): Promise<void>;
  removeDeployment(key: string): Promise<void>;
  // secrets
  getSecret(scope: string, name: string): Promise<string | undefined>;
  putSecret(scope: string, name: string, value: string): Promise<void>;
  ensureSecret(scope: string, name: string, generate: () => string): Promise<string>;
  deleteSecrets(scope: string): Promise<void>;
  // tokens
  addToken(name: string, token: string, role: string): Promise<void>;
  findToken(token: string): Promise<{ name: string; role: string } | undefined>;
  hasTokens(): Promise<boolean>;
  // events
  addEvent(e: {
    deploymentKey?: string;
    kind: string;
    message: string;
    data?: Record<string, unknown>;
  }): Promise<void>;
  listEvents(filter?: { deploymentKey?: string; limit?: number }): Promise<EventRow[]>;
}

export function createStateStore(pool: Pool, box: SecretBox): StateStore {
  const q: Queryable = { query: guardedQuery(pool) };
  const one = async (sql: string, params: unknown[] = []) =>
    (await q.query(sql, params)).rows[0] as Record<string, unknown> | undefined;
  const all = async (sql: string, params: unknown[] = []) =>
    (await q.query(sql, params)).rows as Record<string, unknown>[];

  const store: StateStore = {
    pool,
    ...createOperationStore(q),
    async upsertDeployment(d) {
      const row = await one(
        `insert into deployments (key, kind, service, environment, instance, spec, spec_hash, managed_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (key) do update set spec = excluded.spec, spec_hash = excluded.spec_hash, updated_at = now()
         returning *`,
        [
          d.key,
          d.kind,
          d.service,
          d.environment,
          d.instance ?? null,
          JSON.stringify(d.spec),
          d.specHash,
          d.managedBy ?? 'repo',
        ],
      );
      return toDeployment(row!);
    },
    async getDeployment(key) {
      const row = await one('select * from deployments where key = $1', [key]);
      return row ? toDeployment(row) : undefined;
    },
    async requireDeployment(key) {
      const d = await store.getDeployment(key);
      if (!d) throw new NotFoundError(`No deployment '${key}'. Run \`msp status\` to list deployments.`);
      return d;
    },
    async listDeployments() {
      return (await all('select * from deployments order by key')).map(toDeployment);
    },
    async setDesiredState(key, state) {
      await q.query('update deployments set desired_state = $2, updated_at = now() where key = $1', [
        key,
        state,
      ]);
    },
    async setStatus(key, status, detail, release) {
      await q.query(
        `update deployments set status = $2, status_detail = $3,
           release = coalesce($4, release), updated_at = now() where key = $1`,
        [key, status, detail ?? null, release ?? null],
      );
    },
    async setTargetRelease(key, release) {
      await q.query('update deployments set target_release = $2, updated_at = now() where key = $1', [
        key,
        release ? JSON.stringify(release) : null,
      ]);
    },
    async markApplied(key, specHash) {
      await q.query('update deployments set applied_hash = $2, updated_at = now() where key = $1', [
        key,
        specHash,
      ]);
    },
    async setPorts(key, ports) {
      await q.query('update deployments set ports = $2, updated_at = now() where key = $1', [
        key,
        JSON.stringify(ports),
      ]);
    },
    async addRestart(key) {
      await q.query('update deployments set restarts = restarts + 1 where key = $1', [key]);
    },
    async removeDeployment(key) {
      await q.query('delete from deployments where key = $1', [key]);
    },

    async getSecret(scope, name) {
      const row = await one('select ciphertext from secrets where scope = $1 and name = $2', [scope, name]);
      return row ? box.open(row.ciphertext as Buffer) : undefined;
    },
    async putSecret(scope, name, value) {
      await q.query(
        `insert into secrets (scope, name, ciphertext) values ($1, $2, $3)
         on conflict (scope, name) do update set ciphertext = excluded.ciphertext`,
        [scope, name, box.seal(value)],
      );
    },
    async ensureSecret(scope, name, generate) {
      // Insert-if-absent, then read back: two racing writers agree on one value.
      await q.query(
        'insert into secrets (scope, name, ciphertext) values ($1, $2, $3) on conflict (scope, name) do nothing',
        [scope, name, box.seal(generate())],
      );
      return (await store.getSecret(scope, name))!;
    },
    async deleteSecrets(scope) {
      await q.query('delete from secrets where scope = $1', [scope]);
    },

    async addToken(name, token, role) {
      await q.query(
        'insert into api_tokens (name, token_sha256, role) values ($1, $2, $3) on conflict do nothing',
        [name, sha256(token), role],
      );
    },
    async findToken(token) {
      const row = await one(
        `select name, role from api_tokens where token_sha256 = $1 and (expires_at is null or expires_at > now())`,
        [sha256(token)],
      );
      return row ? { name: row.name as string, role: row.role as string } : undefined;
    },
    async hasTokens() {
      return (await one('select 1 from api_tokens limit 1')) !== undefined;
    },

    async addEvent(e) {
      await q.query('insert into events (deployment_key, kind, message, data) values ($1, $2, $3, $4)', [
        e.deploymentKey ?? null,
        e.kind,
        e.message,
        JSON.stringify(e.data ?? {}),
      ]);
    },
    async listEvents(filter = {}) {
      const rows = await all(
        `select * from events where ($1::text is null or deployment_key = $1) order by id desc limit $2`,
        [filter.deploymentKey ?? null, filter.limit ?? 100],
      );
      return rows.map((r) => ({
        id: Number(r.id),
        at: iso(r.at),
        deploymentKey: (r.deployment_key as string | null) ?? null,
        kind: r.kind as string,
        message: r.message as string,
        data: r.data as Record<string, unknown>,
      }));
    },
  };
  return store;
}
