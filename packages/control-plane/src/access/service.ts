/**
 * Access requests and grants with their policy (access/policy.ts), the grant checks every change and every
 * database connection passes, the database credentials minted under a grant and dropped when it ends, and
 * the sweep that ends grants on time.
 */
import {
  InputError,
  NotAllowedError,
  NotFoundError,
  PreconditionFailedError,
  formatDuration,
} from '@msp/core';
import type { Principal } from '../api/app.js';
import type { AuditLog } from '../audit/log.js';
import type { OperationEngine } from '../operations/engine.js';
import type { RuntimeTarget, TemporaryDbAccess } from '../runtime-port.js';
import type { DeploymentRow, StateStore } from '../state/store.js';
import { grantCovers, grantTargets, hasRole, mayDecide, needsGrant, policyOf } from './policy.js';
import type { AccessStore, GrantRole, RequestRow, Role } from './store.js';

/** How long a request may wait for a decision before it can no longer be approved. */
export const PENDING_TTL_SECONDS = 24 * 3600;

export interface AccessServiceDeps {
  store: AccessStore;
  state: StateStore;
  auditLog: AuditLog;
  runtime: RuntimeTarget;
  log: (line: string) => void;
}

export function createAccessService(deps: AccessServiceDeps) {
  const { store, state, auditLog, runtime } = deps;
  const audit = async (
    actor: string,
    action: string,
    target: string | null,
    data: Record<string, unknown>,
  ) => {
    await auditLog.append({ actor, action, target, data });
  };

  /** A person (a user row), not the bootstrap admin nor one of the control plane's own actors. */
  const personOf = async (name: string) => {
    const user = await store.getUser(name);
    return user && !user.disabledAt ? user : undefined;
  };

  const deploymentsFor = async (target: string, environment: string): Promise<DeploymentRow[]> => {
    const inEnv = (await state.listDeployments()).filter((d) => d.environment === environment);
    if (inEnv.length === 0) {
      throw new NotFoundError(
        `No deployment in environment "${environment}": see \`msp status\` for environments.`,
      );
    }
    const matched = inEnv.filter((d) => grantTargets({ target, environment }, d));
    if (matched.length === 0) {
      throw new NotFoundError(
        `Nothing named "${target}" runs in ${environment}: give a service id, an instance id or env/instance (\`msp status\`).`,
      );
    }
    return matched;
  };

  const activeGrant = async (who: string, d: DeploymentRow, needs: GrantRole) =>
    (await store.activeGrants(who, d.environment)).find(
      (g) => grantTargets(g, d) && grantCovers(g.role, needs),
    );

  const refusal = (who: string, d: DeploymentRow, needs: GrantRole, what: string) =>
    new NotAllowedError(
      `${d.environment} is a restricted environment: ${who} needs an active ${needs} grant for ${d.service} to ${what}. ` +
        `Ask for one: \`msp access request ${d.instance ? `${d.environment}/${d.instance}` : d.service} ${d.environment} --role ${needs} --for 1h --reason "…"\`, then have another person approve it.`,
      { details: { environment: d.environment, needs } },
    );

  /**
   * The roles that may decide each request: its environment's access.approverRoles (admin where nothing it
   * names runs). One read of the deployments for the whole list.
   */
  const approversOf = async (rows: readonly RequestRow[]): Promise<Role[][]> => {
    const all = rows.length > 0 ? await state.listDeployments() : [];
    return rows.map((row) => {
      const d = all.find((x) => x.environment === row.environment && grantTargets(row, x));
      return d ? policyOf(d).approverRoles : ['admin'];
    });
  };

  const service = {
    store,
    audit,
    approversOf,

    /** The grant check of every operation, whichever module queues it (an engine hook). */
    async beforeEnqueue(request: { kind: string; deploymentKey: string; createdBy: string }): Promise<void> {
      if (!needsGrant(request.kind)) return;
      const person = await personOf(request.createdBy);
      if (!person) return; // the bootstrap admin, the reconciler, the scheduler
      const d = await state.getDeployment(request.deploymentKey);
      if (!d || !policyOf(d).restricted) return;
      if (!(await activeGrant(person.name, d, 'operate'))) {
        throw refusal(person.name, d, 'operate', `run ${request.kind}`);
      }
    },

    /** The grant check of `pg connect`: credentials end with the grant, and are dropped with it. */
    async beforeDatabaseAccess(request: {
      principal: Principal;
      deployment: DeploymentRow;
      access: 'read' | 'write';
      validForSeconds: number;
    }) {
      const { principal, deployment: d } = request;
      if (request.access === 'write' && !hasRole(principal.role, 'operator')) {
        throw new NotAllowedError(
          `${principal.name} is a ${principal.role}; write access to a database needs the operator role.`,
        );
      }
      const person = await personOf(principal.name);
      if (!person || !policyOf(d).restricted) return;
      const needs: GrantRole = request.access === 'write' ? 'db-write' : 'db-read';
      const grant = await activeGrant(person.name, d, needs);
      if (!grant) throw refusal(person.name, d, needs, 'connect to its database');
      const left = Math.floor((Date.parse(grant.endsAt!) - Date.now()) / 1000);
      if (left < 1) throw refusal(person.name, d, needs, 'connect to its database');
      return {
        validForSeconds: Math.min(request.validForSeconds, left),
        minted: async (access: TemporaryDbAccess) => {
          await store.addCredential({
            dbUser: access.user,
            requestId: grant.id,
            deploymentKey: d.key,
            validUntil: access.validUntil ?? grant.endsAt!,
          });
          await audit(person.name, 'access.db-credential', d.key, {
            grant: grant.id,
            dbUser: access.user,
            access: request.access,
            validUntil: access.validUntil ?? null,
          });
        },
      };
    },

    async request(
      who: Principal,
      body: {
        target: string;
        environment: string;
        role: GrantRole;
        durationSeconds: number;
        reason: string;
        breakGlass?: boolean | undefined;
      },
    ): Promise<RequestRow> {
      const person = await personOf(who.name);
      if (!person) {
        throw new InputError(
          `${who.name} is not a person with access to request (the bootstrap admin needs no grant): use your own token (\`msp tokens create\`).`,
        );
      }
      const deployments = await deploymentsFor(body.target, body.environment);
      const policy = policyOf(deployments[0]!);
      if (!policy.restricted) {
        throw new InputError(`${body.environment} is not restricted: no grant is needed there.`);
      }
      if (body.durationSeconds < 1 || body.durationSeconds > policy.maxGrantSeconds) {
        throw new InputError(
          `--for ${formatDuration(body.durationSeconds * 1000)}: ${body.environment} grants last 1s to ${formatDuration(policy.maxGrantSeconds * 1000)} (access.maxGrantDuration in msp.yaml).`,
        );
      }
      if (body.breakGlass && !hasRole(person.role, 'admin')) {
        throw new NotAllowedError(
          `Break-glass access is for admins; ${person.name} is a ${person.role}. Ask an approver instead.`,
        );
      }
      const row = await store.addRequest({
        requester: person.name,
        target: body.target,
        environment: body.environment,
        role: body.role,
        durationSeconds: body.durationSeconds,
        reason: body.reason,
        breakGlass: body.breakGlass === true,
      });
      await audit(person.name, row.breakGlass ? 'access.break-glass' : 'access.request', row.id, { ...row });
      if (row.breakGlass) {
        // Loud: an event the notification channels forward, and the process log.
        const message = `BREAK-GLASS: ${person.name} took ${row.role} access to ${row.target} in ${row.environment} for ${formatDuration(row.durationSeconds * 1000)} without approval: ${row.reason}`;
        deps.log(`access: ${message}`);
        for (const d of deployments) {
          await state.addEvent({
            deploymentKey: d.key,
            kind: 'access-break-glass',
            message,
            data: { ...row },
          });
        }
      }
      return row;
    },

    async approve(who: Principal, id: string, reason: string | null) {
      const row = await pending(id);
      if (row.requester === who.name) {
        throw new NotAllowedError(`${who.name} cannot approve their own request ${id}: another person must.`);
      }
      await checkDecide(who, row, 'approving');
      const done = await store.decide(id, who.name, true, reason);
      if (done) await audit(who.name, 'access.approve', id, { ...done });
      return done;
    },

    async deny(who: Principal, id: string, reason: string | null) {
      const row = await pending(id);
      if (row.requester === who.name)
        throw new NotAllowedError(
          `${who.name} cannot decide their own request ${id}; to withdraw it: \`msp access revoke ${id}\`.`,
        );
      await checkDecide(who, row, 'denying');
      const done = await store.decide(id, who.name, false, reason);
      if (done) await audit(who.name, 'access.deny', id, { ...done });
      return done;
    },

    async revoke(who: Principal, id: string, reason: string | null) {
      const row = await store.getRequest(id);
      if (!row) throw new NotFoundError(`No access request "${id}": see \`msp access list\`.`);
      if (row.requester !== who.name && !hasRole(who.role, 'operator')) {
        throw new NotAllowedError(`${who.name} may revoke only their own grants.`);
      }
      if (row.status !== 'approved' && row.status !== 'pending') {
        throw new PreconditionFailedError(`Request ${id} is ${row.status} already: nothing to revoke.`);
      }
      const done = await store.revoke(id, who.name);
      if (done) {
        await audit(who.name, 'access.revoke', id, { ...done, reason });
        await service.sweep();
      }
      return done;
    },

    /** Ends grants whose time is up and drops the credentials of ended grants (their sessions end too). */
    async sweep(): Promise<void> {
      for (const g of await store.expireGrants()) await audit('system', 'access.expire', g.id, { ...g });
      for (const g of await store.expirePending(PENDING_TTL_SECONDS))
        await audit('system', 'access.expire', g.id, { ...g });
      for (const c of await store.credentialsToDrop()) {
        try {
          await runtime.revokeDatabaseAccess?.(c.deploymentKey, c.dbUser);
          await store.markDropped(c.dbUser);
          await audit('system', 'access.db-credential-dropped', c.deploymentKey, { ...c });
        } catch (error) {
          deps.log(`access: dropping ${c.dbUser} of ${c.deploymentKey}: ${String(error)}; retrying`);
        }
      }
    },

    hooksFor(engine: OperationEngine) {
      engine.addHooks({ beforeEnqueue: (r) => service.beforeEnqueue(r) });
    },
  };

  async function pending(id: string): Promise<RequestRow> {
    const row = await store.getRequest(id);
    if (!row) throw new NotFoundError(`No access request "${id}": see \`msp access list\`.`);
    const stale =
      row.status === 'pending' && Date.parse(row.createdAt) + PENDING_TTL_SECONDS * 1000 <= Date.now();
    if (stale || (row.status === 'expired' && row.decidedAt === null)) {
      if (stale) await service.sweep();
      throw new PreconditionFailedError(`Request ${id} has expired (undecided for 24h): ask again.`);
    }
    if (row.status !== 'pending') {
      throw new PreconditionFailedError(`Request ${id} is ${row.status}, not pending: nothing to decide.`);
    }
    return row;
  }

  /** Approving or denying takes one of the environment's approver roles (access.approverRoles). */
  async function checkDecide(who: Principal, row: RequestRow, doing: 'approving' | 'denying'): Promise<void> {
    const [approvers] = await approversOf([row]);
    if (!mayDecide(who.role, approvers!)) {
      throw new NotAllowedError(
        `${who.name} is a ${who.role}; ${doing} access to ${row.environment} needs the role ${approvers!.join(' or ')} (access.approverRoles in msp.yaml).`,
      );
    }
  }

  return service;
}

export type AccessService = ReturnType<typeof createAccessService>;
