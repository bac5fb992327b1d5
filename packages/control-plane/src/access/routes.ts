/** Handlers of the /whoami, /users, /tokens and /access routes (access/schemas.ts). */
import type { OpenAPIHono } from '@hono/zod-openapi';
import {
  InputError,
  NotAllowedError,
  NotFoundError,
  PreconditionFailedError,
  parseDuration,
} from '@msp/core';
import type { ApiEnv, Principal } from '../api/app.js';
import type { AccessService } from './service.js';
import { hasRole } from './policy.js';
import { accessRoutes as r } from './schemas.js';

const DAY = 86_400_000;

function durationMs(text: string, what: string): number {
  try {
    return parseDuration(text);
  } catch {
    throw new InputError(`${what} "${text}" is not a duration: give one such as 30m, 2h or 7d.`);
  }
}

export function accessApi(
  api: OpenAPIHono<ApiEnv>,
  access: AccessService,
  putSecret: (name: string, value: string) => Promise<void>,
): void {
  const { store } = access;
  const me = (c: { get(k: 'principal'): Principal }) => c.get('principal');

  api.openapi(r.whoami, async (c) => {
    const p = me(c);
    const user = await store.getUser(p.name);
    const grants = user ? await store.listRequests({ requester: p.name, status: 'approved' }) : [];
    return c.json({ name: p.name, role: p.role, kind: user ? 'user' : 'bootstrap', grants } as const, 200);
  });

  api.openapi(r.users, async (c) => c.json({ users: await store.listUsers() }, 200));
  api.openapi(r.addUser, async (c) => {
    const body = c.req.valid('json');
    const user = await store.addUser(body.name, body.role, me(c).name);
    await access.audit(me(c).name, 'user.add', body.name, { role: body.role });
    return c.json(user, 201);
  });
  api.openapi(r.setRole, async (c) => {
    const { name } = c.req.valid('param');
    const user = await store.setRole(name, c.req.valid('json').role);
    await access.audit(me(c).name, 'user.role', name, { role: user.role });
    return c.json(user, 200);
  });
  api.openapi(r.disableUser, async (c) => {
    const { name } = c.req.valid('param');
    const user = await store.disableUser(name);
    await access.audit(me(c).name, 'user.disable', name, {});
    return c.json(user, 200);
  });

  api.openapi(r.tokens, async (c) => {
    const p = me(c);
    return c.json({ tokens: await store.listTokens(hasRole(p.role, 'admin') ? undefined : p.name) }, 200);
  });
  api.openapi(r.createToken, async (c) => {
    const p = me(c);
    const body = c.req.valid('json');
    const owner = body.user ?? p.name;
    if (owner !== p.name && !hasRole(p.role, 'admin')) {
      throw new NotAllowedError(`Only an admin creates tokens for someone else; ${p.name} is a ${p.role}.`);
    }
    const user = await store.getUser(owner);
    if (!user || user.disabledAt) {
      throw new NotFoundError(
        owner === p.name
          ? `${owner} is not a user with tokens of their own (the bootstrap admin's token is .msp/admin-token): add one with \`msp users add <name> --role …\`.`
          : `No user "${owner}": add them with \`msp users add ${owner} --role viewer|operator|admin\`.`,
      );
    }
    const ms = durationMs(body.expiresIn ?? '90d', '--expires-in');
    if (ms < 60_000 || ms > 365 * DAY) {
      throw new InputError(`--expires-in ${body.expiresIn}: give 1m to 365d (every token expires).`);
    }
    const label = body.label ?? '';
    const created = await store.createToken(owner, {
      label,
      expiresAt: new Date(Date.now() + ms),
      by: p.name,
    });
    await access.audit(p.name, 'token.create', owner, {
      id: created.id,
      label,
      expiresAt: created.expiresAt,
    });
    return c.json({ ...created, user: owner }, 201);
  });
  api.openapi(r.revokeToken, async (c) => {
    const p = me(c);
    const { id } = c.req.valid('param');
    const token = await store.getToken(id);
    if (!token || (token.user !== p.name && !hasRole(p.role, 'admin'))) {
      throw new NotFoundError(`No token "${id}" of yours: see \`msp tokens list\`.`);
    }
    await store.revokeToken(id);
    await access.audit(p.name, 'token.revoke', token.user, { id });
    return c.json((await store.getToken(id))!, 200);
  });

  api.openapi(r.requests, async (c) => {
    const { status } = c.req.valid('query');
    const requests = await store.listRequests(status ? { status } : {});
    const approvers = await access.approversOf(requests);
    return c.json({ requests: requests.map((r, i) => ({ ...r, approverRoles: approvers[i]! })) }, 200);
  });
  api.openapi(r.request, async (c) => {
    const body = c.req.valid('json');
    const seconds = Math.ceil(durationMs(body.duration, '--for') / 1000);
    return c.json(await access.request(me(c), { ...body, durationSeconds: seconds }), 201);
  });
  for (const kind of ['approve', 'deny', 'revoke'] as const) {
    api.openapi(r[kind], async (c) => {
      const { id } = c.req.valid('param');
      const body = (await c.req.json().catch(() => ({}))) as { reason?: string };
      const reason = typeof body.reason === 'string' ? body.reason : null;
      const done = await access[kind](me(c), id, reason);
      if (!done)
        throw new PreconditionFailedError(`Request ${id} changed meanwhile: see \`msp access list\`.`);
      return c.json(done, 200);
    });
  }
  api.openapi(r.oidcSecret, async (c) => {
    if (!hasRole(me(c).role, 'admin'))
      throw new NotAllowedError('Only an admin may set the OIDC client secret.');
    const { name } = c.req.valid('param');
    await putSecret(name, c.req.valid('json').value);
    await access.audit(me(c).name, 'oidc-secret.set', name, {});
    return c.json({ name }, 200);
  });
}
