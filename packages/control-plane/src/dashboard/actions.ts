/**
 * The dashboard's actions: each is one /api/v1 call with the user's token, the same the CLI makes. The API
 * decides (auth, validation, preconditions); its message comes back to the page as is. Destructive actions
 * must carry `confirm` naming their target, which the page's confirmation dialog fills in.
 */
import { messageOf, q, type ApiResult, type UserApi } from './client.js';

export interface Outcome {
  ok: boolean;
  message: string;
}

interface Plan {
  path: string;
  /** DELETE instead of POST (ending a silence). */
  method?: 'delete';
  body: Record<string, unknown>;
  /** What the confirmation must name, for a destructive action. */
  target?: string;
  done: (body: Record<string, unknown>) => string;
}

const queued = (what: string) => (body: Record<string, unknown>) => {
  const op = (body.operation ?? body) as { id?: string };
  return op.id ? `${what}: operation ${op.id} queued.` : `${what}.`;
};

function plan(action: string, f: Record<string, string>): Plan | string {
  const need = (name: string) => f[name]?.trim() || undefined;
  const service = need('service');
  const key = need('deployment');
  switch (action) {
    case 'promote':
      if (!service) return 'Promote needs a service.';
      return {
        path: '/rollouts/promote',
        body: {
          service,
          ...(need('to') ? { to: need('to') } : {}),
          ...(need('version') ? { version: need('version') } : {}),
        },
        done: queued(`Promoting ${service}${need('to') ? ` to ${need('to')}` : ''}`),
      };
    case 'suspend':
    case 'resume':
      if (!service) return `${action} needs a service.`;
      return {
        path: `/rollouts/${action}`,
        body: { service },
        done: () => `${service}'s pipeline is ${action === 'suspend' ? 'suspended' : 'resumed'}.`,
      };
    case 'rollback': {
      const environment = need('environment');
      if (!service || !environment) return 'Rollback needs a service and an environment.';
      return {
        path: '/rollouts/rollback',
        body: { service, environment },
        target: `${service}/${environment}`,
        done: queued(`Rolling ${service}/${environment} back`),
      };
    }
    case 'deploy':
    case 'stop':
      if (!key) return `${action} needs a deployment.`;
      return {
        path: `/deployments/${q(key)}/${action}`,
        body: { reason: 'from the dashboard' },
        ...(action === 'stop' ? { target: key } : {}),
        done: queued(`${action === 'stop' ? 'Stopping' : 'Deploying'} ${key}`),
      };
    case 'backup':
      if (!key) return 'A backup needs a deployment.';
      return {
        path: '/backups',
        body: { deployment: key, reason: 'from the dashboard' },
        done: queued(`Backing up ${key}`),
      };
    case 'restore': {
      if (!key) return 'A restore needs a deployment.';
      const to = need('to');
      const into = need('into');
      return {
        path: '/restores',
        body: {
          deployment: key,
          ...(to ? { to } : { latest: true }),
          type: need('type') ?? 'full',
          ...(into ? { into } : { inPlace: true }),
          reason: `from the dashboard: ${to ?? 'latest'} ${into ? `into ${into}` : 'in place'}`,
        },
        target: key,
        done: queued(`Restoring ${key} to ${to ?? 'the latest state'} ${into ? `into ${into}` : 'in place'}`),
      };
    }
    case 'request-access': {
      const [target, environment, role, duration, reason] = [
        need('target'),
        need('environment'),
        need('role'),
        need('duration'),
        need('reason'),
      ];
      if (!target || !environment || !role || !duration || !reason) {
        return 'An access request needs a target, an environment, a role, a duration and a reason.';
      }
      return {
        path: '/access/requests',
        body: { target, environment, role, duration, reason },
        done: (b) =>
          `Asked for ${role} access to ${target} in ${environment}: request ${String(b.id)} waits for approval.`,
      };
    }
    case 'approve':
    case 'deny':
    case 'revoke': {
      const id = need('id');
      if (!id) return `${action} needs an access request.`;
      const what = `${need('requester') ?? 'someone'}'s access to ${need('target') ?? '?'} in ${need('environment') ?? '?'}`;
      return {
        path: `/access/requests/${q(id)}/${action}`,
        body: {},
        // Deny and revoke ask first, naming the target; approving is what the requester asked for.
        ...(action === 'approve' ? {} : { target: need('target') ?? id }),
        done: () =>
          action === 'approve'
            ? `Approved ${what}.`
            : action === 'deny'
              ? `Denied ${what}.`
              : `Revoked ${what}.`,
      };
    }
    case 'reconcile':
      return { path: '/reconcile', body: {}, done: () => 'Reconciled with the platform repo.' };
    case 'ack': {
      const id = need('id');
      if (!id) return 'Acknowledging needs an incident.';
      return {
        path: `/alerts/incidents/${q(id)}/ack`,
        body: {},
        done: () => `Acknowledged incident ${id}.`,
      };
    }
    case 'silence': {
      const [policy, svc, environment, reason, duration] = [
        need('policy') ?? '*',
        need('service') ?? '*',
        need('environment') ?? '*',
        need('reason'),
        need('duration'),
      ];
      if (!reason || !duration) return 'A silence needs a reason and how long it lasts (such as 2h).';
      return {
        path: '/alerts/silences',
        body: { policy, service: svc, environment, reason, duration },
        done: (b) =>
          `Silenced ${policy} for ${svc}/${environment} until ${String(b.endsAt)} (${String(b.id)}).`,
      };
    }
    case 'unsilence': {
      const id = need('id');
      if (!id) return 'Ending a silence needs its id.';
      return {
        path: `/alerts/silences/${q(id)}`,
        method: 'delete',
        body: {},
        target: id,
        done: () => `Silence ${id} ended.`,
      };
    }
    case 'upgrade':
    case 'extend': {
      const [env, id] = [need('env'), need('id')];
      if (!env || !id) return `${action} needs an instance (env and id).`;
      const base = `/instances/${q(env)}/${q(id)}`;
      if (action === 'extend') {
        const ttl = need('ttl');
        if (!ttl) return 'Extending needs a TTL such as 7d.';
        return {
          path: `${base}/extend`,
          body: { ttl },
          done: (b) => `${env}/${id} now expires ${typeof b.expiresAt === 'string' ? b.expiresAt : 'never'}.`,
        };
      }
      const to = need('to');
      if (!to) return 'An upgrade needs the version to upgrade to.';
      return {
        path: `${base}/upgrade`,
        body: { to },
        // The confirmation names the instance and the version.
        target: `${env}/${id}@${to}`,
        done: queued(`Upgrading ${env}/${id} to ${to}`),
      };
    }
    case 'fleet-pause':
    case 'fleet-resume': {
      const id = need('id');
      if (!id) return 'This needs a fleet.';
      const verb = action === 'fleet-pause' ? 'pause' : 'resume';
      return {
        path: `/fleets/${q(id)}/${verb}`,
        body: {},
        done: () => `Fleet ${id} ${verb === 'pause' ? 'paused' : 'resumed'}.`,
      };
    }
    default:
      return `There is no action '${action}'.`;
  }
}

export async function runAction(
  api: UserApi,
  action: string,
  fields: Record<string, string>,
): Promise<Outcome> {
  const p = plan(action, fields);
  if (typeof p === 'string') return { ok: false, message: p };
  if (p.target !== undefined && fields.confirm !== p.target) {
    return {
      ok: false,
      message: `Not done: confirm that you mean ${p.target} (the dashboard asks before ${action}).`,
    };
  }
  const r: ApiResult<Record<string, unknown>> =
    p.method === 'delete' ? await api.delete(p.path) : await api.post(p.path, p.body);
  if (r.status >= 300) return { ok: false, message: messageOf(r) };
  return { ok: true, message: p.done(r.body) };
}
