/**
 * The access module's tables: people (access_users), their API tokens (SHA-256 only: a token is shown once
 * and cannot be read back), access requests/grants and the database credentials minted under a grant.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ConflictError, InputError, NotFoundError } from '@msp/core';
import { migrationsBeside, type MigrationSet } from '../state/migrate.js';
import type { Db } from '../state/db.js';
import { sha256 } from '../state/store.js';

export const ACCESS_MIGRATIONS: MigrationSet = {
  module: 'access',
  folder: migrationsBeside(import.meta.url),
};

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const GRANT_ROLES = ['db-read', 'db-write', 'operate'] as const;
export type GrantRole = (typeof GRANT_ROLES)[number];
/** Names that are not people: the bootstrap admin and the control plane's own actors. */
export const RESERVED_NAMES = ['admin', 'reconciler', 'scheduler', 'system', 'msp'];

export interface UserRow {
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string;
  disabledAt: string | null;
}
export interface TokenRow {
  id: string;
  user: string;
  label: string;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}
export interface RequestRow {
  id: string;
  requester: string;
  target: string;
  environment: string;
  role: GrantRole;
  durationSeconds: number;
  reason: string;
  breakGlass: boolean;
  status: 'pending' | 'approved' | 'denied' | 'revoked' | 'expired';
  createdAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
  decisionReason: string | null;
  startsAt: string | null;
  endsAt: string | null;
  revokedBy: string | null;
  revokedAt: string | null;
}

const iso = (v: unknown): string | null =>
  v == null ? null : v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : JSON.stringify(v);

const toUser = (r: Record<string, unknown>): UserRow => ({
  name: r.name as string,
  role: r.role as Role,
  createdAt: iso(r.created_at)!,
  createdBy: r.created_by as string,
  disabledAt: iso(r.disabled_at),
});
const toToken = (r: Record<string, unknown>): TokenRow => ({
  id: r.id as string,
  user: r.user_name as string,
  label: r.label as string,
  createdAt: iso(r.created_at)!,
  expiresAt: iso(r.expires_at)!,
  revokedAt: iso(r.revoked_at),
  lastUsedAt: iso(r.last_used_at),
});
export const toRequest = (r: Record<string, unknown>): RequestRow => ({
  id: r.id as string,
  requester: r.requester as string,
  target: r.target as string,
  environment: r.environment as string,
  role: r.role as GrantRole,
  durationSeconds: Number(r.duration_seconds),
  reason: r.reason as string,
  breakGlass: r.break_glass as boolean,
  status: r.status as RequestRow['status'],
  createdAt: iso(r.created_at)!,
  decidedBy: (r.decided_by as string | null) ?? null,
  decidedAt: iso(r.decided_at),
  decisionReason: (r.decision_reason as string | null) ?? null,
  startsAt: iso(r.starts_at),
  endsAt: iso(r.ends_at),
  revokedBy: (r.revoked_by as string | null) ?? null,
  revokedAt: iso(r.revoked_at),
});

export function createAccessStore(db: Db) {
  const one = async (sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows[0];
  const all = async (sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows;
  return {
    async addUser(name: string, role: Role, by: string): Promise<UserRow> {
      if (RESERVED_NAMES.includes(name)) {
        throw new InputError(`"${name}" is reserved for the control plane itself: pick another user name.`);
      }
      const row = await one(
        `insert into access_users (name, role, created_by) values ($1, $2, $3) on conflict (name) do nothing returning *`,
        [name, role, by],
      );
      if (!row) throw new ConflictError(`User "${name}" exists already: see \`msp users list\`.`);
      return toUser(row);
    },
    async setRole(name: string, role: Role): Promise<UserRow> {
      const row = await one('update access_users set role = $2 where name = $1 returning *', [name, role]);
      if (!row) throw new NotFoundError(`No user "${name}": see \`msp users list\`.`);
      return toUser(row);
    },
    async disableUser(name: string): Promise<UserRow> {
      const row = await one(
        'update access_users set disabled_at = coalesce(disabled_at, now()) where name = $1 returning *',
        [name],
      );
      if (!row) throw new NotFoundError(`No user "${name}": see \`msp users list\`.`);
      await db.query(
        'update access_tokens set revoked_at = now() where user_name = $1 and revoked_at is null',
        [name],
      );
      return toUser(row);
    },
    async getUser(name: string): Promise<UserRow | undefined> {
      const row = await one('select * from access_users where name = $1', [name]);
      return row ? toUser(row) : undefined;
    },
    async listUsers(): Promise<UserRow[]> {
      return (await all('select * from access_users order by name')).map(toUser);
    },
    async createToken(user: string, opts: { label: string; expiresAt: Date; by: string }) {
      const token = `msp_u_${randomBytes(24).toString('base64url')}`;
      const id = `tok_${randomBytes(6).toString('hex')}`;
      await db.query(
        `insert into access_tokens (id, user_name, token_sha256, label, created_by, expires_at)
         values ($1, $2, $3, $4, $5, $6)`,
        [id, user, sha256(token), opts.label, opts.by, opts.expiresAt.toISOString()],
      );
      return { id, token, expiresAt: opts.expiresAt.toISOString() };
    },
    /**
     * The user a live token belongs to, and when it was last used before (for sign-in records): a person's
     * token, or the bootstrap admin's (core's api_tokens, tokenId null), in one round trip.
     */
    async findToken(token: string) {
      const row = await one(
        `select u.name, u.role, t.id, t.last_used_at from access_tokens t join access_users u on u.name = t.user_name
          where t.token_sha256 = $1 and t.revoked_at is null and t.expires_at > now() and u.disabled_at is null
         union all
         select name, role, null, null from api_tokens
          where token_sha256 = $1 and (expires_at is null or expires_at > now())
         limit 1`,
        [sha256(token)],
      );
      if (!row) return undefined;
      return {
        name: row.name as string,
        role: row.role as Role,
        tokenId: (row.id as string | null) ?? null,
        lastUsedAt: iso(row.last_used_at),
      };
    },
    async touchToken(id: string): Promise<void> {
      await db.query('update access_tokens set last_used_at = now() where id = $1', [id]);
    },
    async listTokens(user?: string): Promise<TokenRow[]> {
      return (
        await all(
          'select * from access_tokens where ($1::text is null or user_name = $1) order by created_at',
          [user ?? null],
        )
      ).map(toToken);
    },
    async getToken(id: string): Promise<TokenRow | undefined> {
      const row = await one('select * from access_tokens where id = $1', [id]);
      return row ? toToken(row) : undefined;
    },
    async revokeToken(id: string): Promise<void> {
      await db.query('update access_tokens set revoked_at = coalesce(revoked_at, now()) where id = $1', [id]);
    },

    async addRequest(r: {
      requester: string;
      target: string;
      environment: string;
      role: GrantRole;
      durationSeconds: number;
      reason: string;
      breakGlass: boolean;
    }): Promise<RequestRow> {
      const id = `acc_${randomUUID().slice(0, 8)}`;
      const row = await one(
        `insert into access_requests (id, requester, target, environment, role, duration_seconds, reason, break_glass,
           status, decided_by, decided_at, starts_at, ends_at)
         values ($1, $2, $3, $4, $5, $6::int, $7, $8::boolean, $9,
           case when $8::boolean then $2 end, case when $8::boolean then now() end,
           case when $8::boolean then now() end,
           case when $8::boolean then now() + make_interval(secs => $6::int) end)
         returning *`,
        [
          id,
          r.requester,
          r.target,
          r.environment,
          r.role,
          r.durationSeconds,
          r.reason,
          r.breakGlass,
          r.breakGlass ? 'approved' : 'pending',
        ],
      );
      return toRequest(row!);
    },
    async getRequest(id: string): Promise<RequestRow | undefined> {
      const row = await one('select * from access_requests where id = $1', [id]);
      return row ? toRequest(row) : undefined;
    },
    async listRequests(filter: { requester?: string; status?: string } = {}): Promise<RequestRow[]> {
      return (
        await all(
          `select * from access_requests where ($1::text is null or requester = $1)
             and ($2::text is null or status = $2) order by created_at desc limit 500`,
          [filter.requester ?? null, filter.status ?? null],
        )
      ).map(toRequest);
    },
    /** Moves a pending request on; undefined when it was no longer pending (someone else decided). */
    async decide(
      id: string,
      by: string,
      approve: boolean,
      reason: string | null,
    ): Promise<RequestRow | undefined> {
      const row = await one(
        `update access_requests set status = $3, decided_by = $2, decided_at = now(), decision_reason = $4,
           starts_at = case when $3 = 'approved' then now() end,
           ends_at = case when $3 = 'approved' then now() + make_interval(secs => duration_seconds) end
         where id = $1 and status = 'pending' returning *`,
        [id, by, approve ? 'approved' : 'denied', reason],
      );
      return row ? toRequest(row) : undefined;
    },
    async revoke(id: string, by: string): Promise<RequestRow | undefined> {
      const row = await one(
        `update access_requests set status = 'revoked', revoked_by = $2, revoked_at = now()
          where id = $1 and status in ('approved', 'pending') returning *`,
        [id, by],
      );
      return row ? toRequest(row) : undefined;
    },
    /** Approved grants past their end become expired; returns them. */
    async expireGrants(): Promise<RequestRow[]> {
      return (
        await all(
          `update access_requests set status = 'expired' where status = 'approved' and ends_at <= now() returning *`,
        )
      ).map(toRequest);
    },
    /** Pending requests older than their would-be duration are not approvable any more. */
    async expirePending(maxAgeSeconds: number): Promise<RequestRow[]> {
      return (
        await all(
          `update access_requests set status = 'expired'
            where status = 'pending' and created_at <= now() - make_interval(secs => $1::int) returning *`,
          [maxAgeSeconds],
        )
      ).map(toRequest);
    },
    async activeGrants(requester: string, environment: string): Promise<RequestRow[]> {
      return (
        await all(
          `select * from access_requests where requester = $1 and environment = $2 and status = 'approved'
             and starts_at <= now() and ends_at > now()`,
          [requester, environment],
        )
      ).map(toRequest);
    },
    async addCredential(c: { dbUser: string; requestId: string; deploymentKey: string; validUntil: string }) {
      await db.query(
        'insert into access_credentials (db_user, request_id, deployment_key, valid_until) values ($1, $2, $3, $4)',
        [c.dbUser, c.requestId, c.deploymentKey, c.validUntil],
      );
    },
    /** Credentials still to drop: of grants no longer approved, or past their own validity. */
    async credentialsToDrop(): Promise<Array<{ dbUser: string; deploymentKey: string; requestId: string }>> {
      return (
        await all(
          `select c.db_user, c.deployment_key, c.request_id from access_credentials c
             join access_requests r on r.id = c.request_id
            where c.dropped_at is null and (r.status <> 'approved' or r.ends_at <= now() or c.valid_until <= now())`,
        )
      ).map((r) => ({
        dbUser: r.db_user as string,
        deploymentKey: r.deployment_key as string,
        requestId: r.request_id as string,
      }));
    },
    async markDropped(dbUser: string): Promise<void> {
      await db.query('update access_credentials set dropped_at = now() where db_user = $1', [dbUser]);
    },
  };
}

export type AccessStore = ReturnType<typeof createAccessStore>;
