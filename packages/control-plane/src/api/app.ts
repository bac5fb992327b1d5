/**
 * The control plane's HTTP API under /api/v1: bearer-token auth on every call, errors as
 * `{ "error": { "code", "message", "details" } }` mapped from the error vocabulary in one place,
 * an OpenAPI document, and Prometheus metrics.
 */
import { Hono, type Context } from 'hono';
import { stream } from 'hono/streaming';
import type { z } from 'zod';
import type { Registry } from 'prom-client';
import {
  InputError,
  MspError,
  NotFoundError,
  UnauthenticatedError,
  httpStatusOf,
  parseDuration,
} from '@msp/core';
import type { StateStore } from '../state/store.js';
import type { OperationEngine } from '../operations/engine.js';
import type { RuntimeTarget } from '../runtime-port.js';
import type { RepoState } from '../repo-state.js';
import { openApiDocument } from './openapi.js';
import { deploymentActionBody, pgConnectBody } from './schemas.js';

export interface ApiDependencies {
  store: StateStore;
  engine: OperationEngine;
  runtime: RuntimeTarget;
  reconcile: (
    by: string,
  ) => Promise<Array<{ kind: string; key: string; reason: string; operationId?: string }>>;
  metrics: Registry;
  info: () => Record<string, unknown>;
  /** What keeps the control plane from serving (its state database down), for /-/healthz: 503 with it. */
  health?: () => Promise<MspError | undefined>;
  /** Whether the platform repo validates, as the last reconcile found it (null before one ran). */
  repo?: () => RepoState | null;
  routes?: ApiRoutes[];
  /** Apps mounted at a path outside /api/v1, before the bearer auth (they do their own). */
  mounts?: ApiMount[];
}

export interface ApiMount {
  path: string;
  app: Hono;
}

export type ApiEnv = { Variables: { principal: { name: string; role: string } } };
type Env = ApiEnv;

/** A feature module's routes, mounted under /api/v1 behind the same auth and error mapping. */
export type ApiRoutes = (api: Hono<ApiEnv>) => void;

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

/** Parses and validates a JSON body; a malformed one is an InputError naming the field. */
export async function parseBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  let raw: unknown = {};
  const text = await c.req.text();
  if (text.trim() !== '') {
    try {
      raw = JSON.parse(text);
    } catch {
      throw new InputError('The request body is not valid JSON.');
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new InputError(
      `Invalid request body: ${first?.path.join('.') || '(root)'}: ${first?.message ?? 'invalid'}`,
      {
        details: { issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
      },
    );
  }
  return parsed.data;
}

export function createApiApp(deps: ApiDependencies): Hono<Env> {
  const { store, engine, runtime } = deps;
  const app = new Hono<Env>();

  app.onError((error, c) => {
    const status = httpStatusOf(error);
    if (status === 500) console.error('control plane: request failed:', error);
    return c.json(errorBody(error), status as 400);
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
    const principal = await store.findToken(match[1]);
    if (!principal) throw new UnauthenticatedError('The bearer token is not valid or has expired.');
    c.set('principal', principal);
    await next();
  });

  app.get('/metrics', async (c) => {
    c.header('content-type', deps.metrics.contentType);
    return c.body(await deps.metrics.metrics());
  });

  const api = new Hono<Env>();
  api.get('/openapi.json', (c) => c.json(openApiDocument()));
  api.get('/info', (c) => c.json(deps.info()));

  api.get('/status', async (c) => {
    const deployments = await store.listDeployments();
    return c.json({
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
    });
  });

  api.get('/deployments/:key{.+}', async (c) => {
    const d = await store.requireDeployment(c.req.param('key'));
    return c.json({ ...d, runtime: runtime.status(d.key) ?? null });
  });

  for (const kind of ['deploy', 'stop', 'delete'] as const) {
    api.post(`/deployments/:key{.+}/${kind}`, async (c) => {
      const key = c.req.param('key');
      await store.requireDeployment(key);
      const body = await parseBody(c, deploymentActionBody);
      const op = await engine.enqueue({
        kind,
        deploymentKey: key,
        reason: body.reason ?? `requested through the API`,
        createdBy: c.get('principal').name,
      });
      return c.json(op, 202);
    });
  }

  // 200 even when the repo does not validate: the reconcile ran and changed nothing; `repo` says why.
  api.post('/reconcile', async (c) =>
    c.json({ actions: await deps.reconcile(c.get('principal').name), repo: deps.repo?.() ?? null }),
  );

  api.get('/operations', async (c) => {
    const limit = Number(c.req.query('limit') ?? 50);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new InputError('limit must be 1–1000.');
    const deploymentKey = c.req.query('deployment');
    return c.json({
      operations: await store.listOperations({ limit, ...(deploymentKey ? { deploymentKey } : {}) }),
    });
  });

  api.get('/operations/:id', async (c) => {
    const op = await store.getOperation(c.req.param('id'));
    if (!op) throw new NotFoundError(`No operation '${c.req.param('id')}'. Run \`msp operations list\`.`);
    return c.json({ ...op, log: await store.readLog(op.id) });
  });

  api.get('/events', async (c) => {
    const deploymentKey = c.req.query('deployment');
    return c.json({ events: await store.listEvents(deploymentKey ? { deploymentKey } : {}) });
  });

  api.get('/logs/:key{.+}', async (c) => {
    const key = c.req.param('key');
    await store.requireDeployment(key);
    const sinceParam = c.req.query('since');
    let since: Date | undefined;
    if (sinceParam) {
      const at = Date.parse(sinceParam);
      since =
        /^\d{4}-/.test(sinceParam) && !Number.isNaN(at)
          ? new Date(at)
          : new Date(Date.now() - parseDuration(sinceParam));
    }
    const follow = c.req.query('follow') === '1' || c.req.query('follow') === 'true';
    const abort = new AbortController();
    c.req.raw.signal.addEventListener('abort', () => abort.abort());
    c.header('content-type', 'application/x-ndjson');
    return stream(c, async (s) => {
      s.onAbort(() => abort.abort());
      for await (const line of runtime.logs(key, {
        ...(since ? { since } : {}),
        follow,
        signal: abort.signal,
      })) {
        await s.write(JSON.stringify(line) + '\n');
      }
    });
  });

  api.post('/pg/connect', async (c) => {
    const body = await parseBody(c, pgConnectBody);
    const d = await store.requireDeployment(body.deployment);
    const access = await runtime.grantDatabaseAccess(d.key, {
      access: body.access,
      validForSeconds: body.sessionTimeoutSeconds,
    });
    await store.addEvent({
      deploymentKey: d.key,
      kind: 'database-access',
      message: `${c.get('principal').name} got ${body.access} database access for ${body.sessionTimeoutSeconds || 'unlimited'} s`,
      data: { access: body.access, user: access.user, validUntil: access.validUntil ?? null },
    });
    return c.json(access, 201);
  });

  for (const add of deps.routes ?? []) add(api);
  app.route('/api/v1', api);
  return app;
}
