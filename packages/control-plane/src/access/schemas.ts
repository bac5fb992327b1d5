/** The /whoami, /users, /tokens and /access routes, defined once (validation, OpenAPI, the CLI's types). */
import { z } from 'zod';
import { idParam, jsonBody, jsonResponse, route, text, typed } from '../api/schemas.js';
import { GRANT_ROLES, ROLES, type RequestRow, type Role, type TokenRow, type UserRow } from './store.js';

/** A request as GET /access/requests lists it: with the roles that may approve or deny it (approverRoles). */
export type RequestView = RequestRow & { approverRoles: Role[] };

const userName = text()
  .regex(/^[a-z0-9][a-z0-9._@+-]*$/, 'a user name such as "alice" or "alice@example.com" (lowercase)')
  .max(200);
const role = z.enum(ROLES, { error: 'must be one of viewer, operator, admin' });
const grantRole = z.enum(GRANT_ROLES, { error: 'must be one of db-read, db-write, operate' });
const durationText = text()
  .regex(/^\d+(ms|s|m|h|d)?$|^(\d+[smhd])+$/, 'a duration such as 30m, 2h or 1d')
  .max(20);

export const userBody = z.strictObject({ name: userName, role });
export const roleBody = z.strictObject({ role });
export const tokenBody = z.strictObject({
  /** Whose token (admins only for someone else); the caller's own by default. */
  user: userName.optional(),
  label: text().max(200).optional(),
  /** How long it lives (default 90d, at most 365d): every token expires. */
  expiresIn: durationText.optional(),
});
export const accessRequestBody = z.strictObject({
  /** A service id, an instance id or `env/instance`. */
  target: text().min(1).max(300),
  environment: text().min(1).max(100),
  role: grantRole,
  duration: durationText,
  reason: text().min(1, 'say why (it is recorded with the grant)').max(500),
  breakGlass: z.boolean().optional(),
});
export const decisionBody = z.strictObject({ reason: text().max(500).optional() });
const nameParam = z.object({ name: userName });

export interface WhoAmI {
  name: string;
  role: string;
  /** What the token is: the bootstrap admin's, a user token, or an OIDC JWT. */
  kind: 'bootstrap' | 'user';
  grants: RequestRow[];
}

export const accessRoutes = {
  whoami: route({
    method: 'get',
    path: '/whoami',
    summary: 'Who the bearer token belongs to, their role and their active grants',
    responses: { 200: jsonResponse('The caller', typed<WhoAmI>('The caller')) },
  }),
  users: route({
    method: 'get',
    path: '/users',
    summary: 'People who may call the control plane (admin)',
    responses: { 200: jsonResponse('Users', typed<{ users: UserRow[] }>('Users')) },
  }),
  addUser: route({
    method: 'post',
    path: '/users',
    summary: 'Add a person with a role (admin)',
    request: { body: jsonBody(userBody) },
    responses: { 201: jsonResponse('The user', typed<UserRow>('A user')) },
  }),
  setRole: route({
    method: 'post',
    path: '/users/{name}/role',
    summary: "Change a person's role (admin)",
    request: { params: nameParam, body: jsonBody(roleBody) },
    responses: { 200: jsonResponse('The user', typed<UserRow>('A user')) },
  }),
  disableUser: route({
    method: 'post',
    path: '/users/{name}/disable',
    summary: 'Disable a person and revoke all their tokens (admin)',
    request: { params: nameParam },
    responses: { 200: jsonResponse('The user', typed<UserRow>('A user')) },
  }),
  tokens: route({
    method: 'get',
    path: '/tokens',
    summary: "API tokens: the caller's own (an admin's: everyone's)",
    responses: { 200: jsonResponse('Tokens', typed<{ tokens: TokenRow[] }>('Tokens (never their secret)')) },
  }),
  createToken: route({
    method: 'post',
    path: '/tokens',
    summary: 'Create an API token: shown once, stored hashed, always expiring',
    request: { body: jsonBody(tokenBody) },
    responses: {
      201: jsonResponse(
        'The token',
        typed<{ id: string; user: string; token: string; expiresAt: string }>('A new token'),
      ),
    },
  }),
  revokeToken: route({
    method: 'post',
    path: '/tokens/{id}/revoke',
    summary: "Revoke an API token (yours, or anyone's as an admin)",
    request: { params: idParam },
    responses: { 200: jsonResponse('The token', typed<TokenRow>('A token')) },
  }),
  requests: route({
    method: 'get',
    path: '/access/requests',
    summary: 'Access requests and grants, newest first, each with the roles that may decide it',
    request: {
      query: z.object({ status: z.enum(['pending', 'approved', 'denied', 'revoked', 'expired']).optional() }),
    },
    responses: { 200: jsonResponse('Requests', typed<{ requests: RequestView[] }>('Requests')) },
  }),
  request: route({
    method: 'post',
    path: '/access/requests',
    summary: 'Ask for time-bound access to a restricted environment (breakGlass: admins, at once, loudly)',
    request: { body: jsonBody(accessRequestBody) },
    responses: { 201: jsonResponse('The request', typed<RequestRow>('A request')) },
  }),
  approve: route({
    method: 'post',
    path: '/access/requests/{id}/approve',
    summary: 'Approve a pending request (another person with an approving role)',
    request: { params: idParam, body: { ...jsonBody(decisionBody), required: false } },
    responses: { 200: jsonResponse('The grant', typed<RequestRow>('A request')) },
  }),
  deny: route({
    method: 'post',
    path: '/access/requests/{id}/deny',
    summary: 'Deny a pending request',
    request: { params: idParam, body: { ...jsonBody(decisionBody), required: false } },
    responses: { 200: jsonResponse('The request', typed<RequestRow>('A request')) },
  }),
  revoke: route({
    method: 'post',
    path: '/access/requests/{id}/revoke',
    summary: 'End a grant early (its database credentials are dropped, sessions ended)',
    request: { params: idParam, body: { ...jsonBody(decisionBody), required: false } },
    responses: { 200: jsonResponse('The request', typed<RequestRow>('A request')) },
  }),
  oidcSecret: route({
    method: 'put',
    path: '/access/oidc-secrets/{name}',
    summary: "Store the OIDC client secret msp.yaml's access.oidc.clientSecret names (admin, write-only)",
    request: {
      params: z.object({
        name: text().regex(/^[a-z0-9][a-z0-9_-]*$/, 'a secret name: lowercase letters, digits, - and _'),
      }),
      body: jsonBody(z.strictObject({ value: text().min(1).max(4096) })),
    },
    responses: { 200: jsonResponse('Stored', typed<{ name: string }>('The secret name')) },
  }),
};
