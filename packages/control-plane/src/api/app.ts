/**
 * The control plane's HTTP API under /api/v1: bearer-token auth on every call, every route defined once
 * with @hono/zod-openapi (validation and the OpenAPI document come from the same definition), errors as
 * `{ "error": { "code", "message", "details" } }` mapped to HTTP statuses in one place, and Prometheus
 * metrics.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Hono, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { stream } from 'hono/streaming';
import { getPath } from 'hono/utils/url';
import { MSP_VERSION } from '@msp/core/version';
import type { Registry } from 'prom-client';
import {
  InputError,
  MspError,
  NotFoundError,
  PreconditionFailedError,
  UnauthenticatedError,
  httpStatusOf,
  parseDuration,
} from '@msp/core';
import type { DeploymentRow, StateStore } from '../state/store.js';
import type { OperationEngine } from '../operations/engine.js';
import type { RuntimeTarget, TemporaryDbAccess } from '../runtime-port.js';
import { enqueueExplained } from './busy.js';
import { PayloadTooLargeError } from './errors.js';
import { coreRoutes } from './routes.js';
import { deletionInput } from '../deployments/delete.js';
import type { RepoState } from '../repo-state.js';

export interface ApiDependencies {
  store: StateStore;
  engine: OperationEngine;
  runtime: RuntimeTarget;
  reconcile: (
    by: string,
  ) => Promise<Array<{ kind: string; key: string; reason: string; operationId?: string }>>;
  metrics: Registry;
  info: () => Record<string, unknown>;
  /** The platform repo, for rules that read what it declares (deleting a declared deployment). */
  repoDir: string;
  /** What keeps the control plane from serving (its state database down), for /-/healthz: 503 with it. */
  health?: () => Promise<MspError | undefined>;
  /** Whether the platform repo validates, as the last reconcile found it (null before one ran). */
  repo?: () => RepoState | null;
  routes?: ApiRoutes[];
  /** Apps mounted at a path outside /api/v1, before the bearer auth (they do their own). */
  mounts?: ApiMount[];
  /** Feature modules' hooks: who a token is, what they may do, what is recorded (access, audit). */
  hooks?: ApiHooks;
}

export interface Principal {
  name: string;
  role: string;
}

export interface ApiHooks {
  /** Resolves a bearer token instead of the store's own check (which these then cover: the admin token). */
  authenticate?: Array<(token: string) => Promise<Principal | undefined>>;
  /** Run after authentication on every authenticated route, in order (authorization, audit). */
  middleware?: Array<MiddlewareHandler<ApiEnv>>;
  /** Before database credentials are minted: throws to refuse; may shorten them; sees what was minted. */
  databaseAccess?: Array<
    (request: {
      principal: Principal;
      deployment: DeploymentRow;
      access: 'read' | 'write';
      validForSeconds: number;
    }) => Promise<{ validForSeconds?: number; minted?: (access: TemporaryDbAccess) => Promise<void> } | void>
  >;
}

export interface ApiMount {
  path: string;
  app: Hono;
}

export type ApiEnv = { Variables: { principal: Principal } };
type Env = ApiEnv;

/** A feature module's routes, mounted under /api/v1 behind the same auth, validation and error mapping. */
export type ApiRoutes = (api: OpenAPIHono<ApiEnv>) => void;

/** The one place an error becomes an HTTP status. */
export function statusOf(error: unknown): number {
  if (error instanceof PayloadTooLargeError) return 413;
  return httpStatusOf(error);
}

function errorBody(error: unknown) {
  if (error instanceof MspError) {
    return {
      error: {
        code: error.code,
        message: error.message,
        ...(error.details ? { details: error.details } : {}),
      },
    };
  }
  return { error: { code: 'internal', message: 'Internal error; see the control plane log.' } };
}

/** hono's own 4xx (malformed JSON, wrong media type, body too large) in MSP's vocabulary. */
function fromHttpException(error: HTTPException): MspError | HTTPException {
  if (error.status === 413) return new PayloadTooLargeError();
  if (error.status === 415 || error.status === 400) {
    return new InputError(
      error.message === 'Malformed JSON in request body'
        ? 'The request body is not valid JSON.'
        : `${error.message}: send a JSON body with \`content-type: application/json\`.`,
    );
  }
  return error;
}

/**
 * A router for /api/v1 routes: a request that fails its route's schema is an InputError naming the
 * field. Feature modules build their routes on one of these (or directly on the `api` they are given).
 */
export function apiRouter(): OpenAPIHono<ApiEnv> {
  return new OpenAPIHono<ApiEnv>({
    defaultHook: (result) => {
      if (result.success) return;
      const first = result.error.issues[0];
      const where =
        result.target === 'json' ? 'request body' : result.target === 'param' ? 'path' : result.target;
      throw new InputError(
        `Invalid ${where}: ${first?.path.join('.') || '(root)'}: ${first?.message ?? 'invalid'}`,
        {
          details: {
            issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
          },
        },
      );
    },
  });
}

/**
 * Deployment keys hold `/`; clients send it as `%2F`, and a raw `/` (`/deployments/svc/dev/deploy`,
 * `/logs/svc/dev`) is read the same way, so one path segment is one key.
 */
function routingPath(request: Request): string {
  const path = getPath(request);
  const m = /^(\/api\/v1\/(?:deployments|logs)\/)(.+)$/.exec(path);
  if (!m) return path;
  const action = request.method === 'POST' ? /^(.+)\/(deploy|stop|delete)$/.exec(m[2]!) : null;
  const key = action ? action[1]! : m[2]!;
  return `${m[1]}${key.replaceAll('/', '%2F')}${action ? `/${action[2]}` : ''}`;
}

/** The database a deployment's spec declares, if any. */
export function declaresDatabase(spec: unknown): boolean {
  const env = (spec as { environment?: { resources?: { postgreSQL?: unknown } } } | null)?.environment;
  return Boolean(env?.resources?.postgreSQL);
}

/** Method and path of every /api/v1 route the app answers, as the OpenAPI document writes them. */
export function servedRoutes(app: Hono<Env>): string[] {
  return [
    ...new Set(
      app.routes
        .filter(
          (r) => r.method !== 'ALL' && r.path.startsWith('/api/v1/') && r.path !== '/api/v1/openapi.json',
        )
        .map(
          (r) => `${r.method} ${r.path.slice('/api/v1'.length).replace(/:([^/{]+)(\{[^}]*\})?/g, '{$1}')}`,
        ),
    ),
  ].sort();
}

/** Method and path of every route in an OpenAPI document. */
export function documentedRoutes(doc: { paths?: object }): string[] {
  return Object.entries((doc.paths ?? {}) as Record<string, object>)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}

export function createApiApp(deps: ApiDependencies): OpenAPIHono<Env> {
  const { store, engine, runtime } = deps;
  const app = new OpenAPIHono<Env>({ getPath: routingPath });

  app.onError((error, c) => {
    const mapped = error instanceof HTTPException ? fromHttpException(error) : error;
    if (mapped instanceof HTTPException) return mapped.getResponse();
    const status = statusOf(mapped);
    // A 503 (the state database is down) is expected and explained; only a 500 is a bug worth a stack.
    if (status === 500) console.error('control plane: request failed:', mapped);
    // The rest of an oversize body is not read: the connection is not reused for another request.
    if (status === 413) c.header('connection', 'close');
    return c.json(errorBody(mapped), status as 400);
  });
  app.notFound((c) => c.json(errorBody(new NotFoundError(`No route ${c.req.method} ${c.req.path}.`)), 404));

  // Every call is authenticated; the only open path is the control plane's own liveness probe.
  app.get('/-/healthz', async (c) => {
    const problem = await deps.health?.();
    return problem ? c.json(errorBody(problem), 503) : c.text('ok');
  });
  for (const m of deps.mounts ?? []) app.route(m.path, m.app);
  app.use('*', async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) {
      throw new UnauthenticatedError(
        'Missing bearer token: send `Authorization: Bearer <token>` (the admin token is in .msp/admin-token).',
      );
    }
    // A module's check (people's tokens, OIDC) replaces the store's, which then covers the admin token too.
    const checks = deps.hooks?.authenticate?.length
      ? deps.hooks.authenticate
      : [(token: string) => store.findToken(token)];
    let principal: Principal | undefined;
    for (const authenticate of checks) principal ??= await authenticate(match[1]);
    if (!principal) throw new UnauthenticatedError('The bearer token is not valid or has expired.');
    c.set('principal', principal);
    await next();
  });
  for (const m of deps.hooks?.middleware ?? []) app.use('*', m);

  app.get('/metrics', async (c) => {
    c.header('content-type', deps.metrics.contentType);
    return c.body(await deps.metrics.metrics());
  });

  const api = apiRouter();
  api.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'MSP control plane', version: MSP_VERSION },
    servers: [{ url: '/api/v1' }],
    security: [{ bearer: [] }],
  });
  api.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });

  const r = coreRoutes;
  api.openapi(r.info, (c) => c.json(deps.info(), 200));

  api.openapi(r.status, async (c) => {
    const deployments = await store.listDeployments();
    return c.json(
      {
        proxyUrl: runtime.proxyUrl() ?? null,
        repo: deps.repo?.() ?? null,
        deployments: deployments.map((d) => ({
          key: d.key,
          kind: d.kind,
          service: d.service,
          environment: d.environment,
          instance: d.instance,
          desiredState: d.desiredState,
          status: d.status,
          statusDetail: d.statusDetail,
          release: d.release,
          restarts: d.restarts,
          runtime: runtime.status(d.key) ?? null,
        })),
      },
      200,
    );
  });

  api.openapi(r.deployment, async (c) => {
    const d = await store.requireDeployment(c.req.valid('param').key);
    return c.json({ ...d, runtime: runtime.status(d.key) ?? null }, 200);
  });

  for (const kind of ['deploy', 'stop', 'delete'] as const) {
    api.openapi(r[kind], async (c) => {
      const { key } = c.req.valid('param');
      await store.requireDeployment(key);
      const body = c.req.valid('json');
      // A deployment still in the platform repo is deleted only when `confirm` names it (after a final backup).
      const input = kind === 'delete' ? await deletionInput(key, body.confirm, deps.repoDir) : {};
      const op = await enqueueExplained(store, engine, {
        kind,
        deploymentKey: key,
        reason: body.reason ?? `requested through the API`,
        createdBy: c.get('principal').name,
        input: { ...input },
      });
      return c.json(op, 202);
    });
  }

  // 200 even when the repo does not validate: the reconcile ran and changed nothing; `repo` says why.
  api.openapi(r.reconcile, async (c) =>
    c.json({ actions: await deps.reconcile(c.get('principal').name), repo: deps.repo?.() ?? null }, 200),
  );

  api.openapi(r.operations, async (c) => {
    const { limit, deployment } = c.req.valid('query');
    return c.json(
      {
        operations: await store.listOperations({
          limit,
          ...(deployment ? { deploymentKey: deployment } : {}),
        }),
      },
      200,
    );
  });

  api.openapi(r.operation, async (c) => {
    const { id } = c.req.valid('param');
    const op = await store.getOperation(id);
    if (!op) throw new NotFoundError(`No operation '${id}'. Run \`msp operations list\`.`);
    return c.json({ ...op, log: await store.readLog(op.id) }, 200);
  });

  api.openapi(r.events, async (c) => {
    const { deployment } = c.req.valid('query');
    return c.json({ events: await store.listEvents(deployment ? { deploymentKey: deployment } : {}) }, 200);
  });

  api.openapi(r.logs, async (c) => {
    const { key } = c.req.valid('param');
    await store.requireDeployment(key);
    const query = c.req.valid('query');
    let since: Date | undefined;
    if (query.since) {
      const at = Date.parse(query.since);
      since =
        /^\d{4}-/.test(query.since) && !Number.isNaN(at)
          ? new Date(at)
          : new Date(Date.now() - parseDuration(query.since));
    }
    const follow = query.follow === '1' || query.follow === 'true';
    const abort = new AbortController();
    c.req.raw.signal.addEventListener('abort', () => abort.abort());
    c.header('content-type', 'application/x-ndjson');
    // A stream, not a typed JSON body: the route's NDJSON response has no TypedResponse form.
    return stream(c, async (s) => {
      s.onAbort(() => abort.abort());
      for await (const line of runtime.logs(key, {
        ...(since ? { since } : {}),
        follow,
        signal: abort.signal,
      })) {
        await s.write(JSON.stringify(line) + '\n');
      }
    }) as never;
  });

  api.openapi(r.pgConnect, async (c) => {
    const body = c.req.valid('json');
    const d = await store.requireDeployment(body.deployment);
    if (!declaresDatabase(d.spec)) {
      throw new PreconditionFailedError(
        `${d.key} declares no database (no resources.postgreSQL in its environment): there is nothing to connect to.`,
      );
    }
    let validForSeconds = body.sessionTimeoutSeconds;
    const minted: Array<(a: TemporaryDbAccess) => Promise<void>> = [];
    for (const gate of deps.hooks?.databaseAccess ?? []) {
      const r = await gate({
        principal: c.get('principal'),
        deployment: d,
        access: body.access,
        validForSeconds,
      });
      validForSeconds = Math.min(validForSeconds, r?.validForSeconds ?? validForSeconds);
      if (r?.minted) minted.push(r.minted);
    }
    const access = await runtime.grantDatabaseAccess(d.key, { access: body.access, validForSeconds });
    for (const m of minted) await m(access);
    await store.addEvent({
      deploymentKey: d.key,
      kind: 'database-access',
      message: `${c.get('principal').name} got ${body.access} database access for ${validForSeconds} s`,
      data: { access: body.access, user: access.user, validUntil: access.validUntil ?? null },
    });
    return c.json(access, 201);
  });

  for (const add of deps.routes ?? []) add(api);
  app.route('/api/v1', api);

  // Every route the server answers is in the OpenAPI document: a route added without a definition is a bug.
  const documented = new Set(
    documentedRoutes(api.getOpenAPI31Document({ openapi: '3.1.0', info: { title: '', version: '' } })),
  );
  const undocumented = servedRoutes(app).filter((x) => !documented.has(x));
  if (undocumented.length > 0) {
    throw new Error(`API routes missing from the OpenAPI document: ${undocumented.join(', ')}`);
  }
  return app;
}
