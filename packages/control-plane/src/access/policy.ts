/**
 * Who may do what. Roles: viewer (reads), operator (runs operations), admin (also manages people); every
 * /api/v1 call is checked in one middleware by method and path, so routes other modules add are covered
 * without them doing anything. In a restricted environment a person also needs an active grant: `operate`
 * for any change (every operation kind but the read-only ones), `db-read`/`db-write` for `pg connect`.
 * The bootstrap admin (the token of `msp up`) and the control plane's own actors (reconciler, scheduler)
 * are not people and need no grant; everything they do is in the audit log.
 */
import type { MiddlewareHandler } from 'hono';
import { getPath } from 'hono/utils/url';
import { NotAllowedError, parseDuration, type OperationKind } from '@msp/core';
import type { ApiEnv } from '../api/app.js';
import type { DeploymentRow } from '../state/store.js';
import type { GrantRole, RequestRow, Role } from './store.js';

const RANK: Record<string, number> = { viewer: 1, operator: 2, admin: 3 };

export function hasRole(role: string, needed: Role): boolean {
  return (RANK[role] ?? 0) >= RANK[needed]!;
}

/** The role a call needs, from its method and path alone. */
export function roleNeeded(method: string, path: string): Role {
  const p = path.replace(/^\/api\/v1/, '');
  if (p === '/users' || p.startsWith('/users/')) return 'admin';
  // Anyone signed in manages their own tokens, asks for access and decides (the handler checks who may).
  if (/^\/(tokens|access|whoami)(\/|$)/.test(p)) return 'viewer';
  // Read-only credentials are a read; the grant check (restricted environments) and write access are the gate's.
  if (p === '/pg/connect') return 'viewer';
  if (method === 'GET' || method === 'HEAD') return 'viewer';
  return 'operator';
}

export function authorization(): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const principal = c.get('principal');
    const path = getPath(c.req.raw);
    const needed = roleNeeded(c.req.method, path);
    if (!hasRole(principal.role, needed)) {
      throw new NotAllowedError(
        `${principal.name} is a ${principal.role}; ${c.req.method} ${path} needs the ${needed} role ` +
          `(an admin can grant it: \`msp users role ${principal.name} ${needed}\`).`,
        { details: { role: principal.role, needed } },
      );
    }
    await next();
  };
}

/**
 * Whether someone with `role` may approve or deny a request where `approvers` (the environment's
 * access.approverRoles) may: the one rule the API (service.ts) and the dashboard's Access page both apply.
 * Never on one's own request: both check that apart.
 */
export function mayDecide(role: string, approvers: readonly Role[]): boolean {
  return approvers.some((r) => hasRole(role, r));
}

/** Operation kinds that change nothing a person could misuse: no grant needed even where restricted. */
export const READ_ONLY_KINDS: ReadonlySet<string> = new Set(['backup', 'verify-backup', 'restore-drill']);

export interface EnvironmentPolicy {
  restricted: boolean;
  maxGrantSeconds: number;
  approverRoles: Role[];
}

/** The access policy a deployment's environment declares in msp.yaml (carried in its spec). */
export function policyOf(d: Pick<DeploymentRow, 'spec'>): EnvironmentPolicy {
  const access = (
    d.spec as {
      envConfig?: {
        category?: string;
        access?: { restricted?: boolean; maxGrantDuration?: string; approverRoles?: Role[] };
      };
    } | null
  )?.envConfig;
  const restricted = access?.access?.restricted ?? access?.category !== 'test';
  return {
    restricted,
    maxGrantSeconds: Math.floor(parseDuration(access?.access?.maxGrantDuration ?? '8h') / 1000),
    approverRoles: access?.access?.approverRoles ?? ['admin'],
  };
}

/** Whether a grant's target names this deployment: its service, its instance, or `env/instance`. */
export function grantTargets(grant: Pick<RequestRow, 'target' | 'environment'>, d: DeploymentRow): boolean {
  if (grant.environment !== d.environment) return false;
  return (
    grant.target === d.service ||
    grant.target === d.key ||
    (d.instance !== null &&
      (grant.target === d.instance || grant.target === `${d.environment}/${d.instance}`))
  );
}

/** Whether a grant of `has` covers what `needs` asks for (db-write includes db-read). */
export function grantCovers(has: GrantRole, needs: GrantRole): boolean {
  return has === needs || (has === 'db-write' && needs === 'db-read');
}

export function needsGrant(kind: OperationKind): boolean {
  return !READ_ONLY_KINDS.has(kind);
}
