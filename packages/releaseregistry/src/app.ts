import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  ErrorCode,
  httpStatusOf,
  InputError,
  isMspError,
  NotFoundError,
  UnauthenticatedError,
  UnavailableError,
} from '@msp/core';
import type { Database } from './db.js';
import { DEFAULT_SCHEMA } from './migrate.js';
import { newReleaseSchema, parseInput, productNameSchema, versionSchema } from './release.js';
import { MAX_VERSION_NUMBER } from './semver.js';
import { PostgresReleaseStore } from './store.js';
import type { ReleaseStore } from './store.js';

export interface ReleaseRegistryAppOptions {
  /** The database (a pg Pool, or a host's narrow handle); releases live in `schema` (run
   * `migrateReleaseRegistry` first). */
  readonly pool: Database;
  readonly schema?: string;
  /** The bearer token writes must carry. */
  readonly token: string;
  /** When set, `/-/healthz` answers to `Authorization: Bearer <diagnosticsSecret>` (the runtime contract). */
  readonly diagnosticsSecret?: string;
  /** One line per request (method, path, status, ms; never headers) and errors. Without it, no request
   * lines, and errors go to stderr. */
  readonly log?: (line: string) => void;
  /** Replaces the PostgreSQL store (tests). */
  readonly store?: ReleaseStore;
  /** When set, every response says which release of the registry answered (`Release-Registry-Version`). */
  readonly version?: string;
}

const MAX_BODY_BYTES = 1024 * 1024;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time: both sides are hashed to the same length first, so neither length nor content leaks. */
export function bearerMatches(header: string | undefined, secret: string): boolean {
  const match = /^Bearer (.+)$/i.exec(header?.trim() ?? '');
  const presented = match?.[1]?.trim() ?? '';
  const ok = timingSafeEqual(digest(presented), digest(secret));
  return ok && presented.length > 0;
}

function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

/** Connection failures are the database being away (503, retry helps), not a bug in the request. */
function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code) ||
      code.startsWith('08') || // connection exception
      code === '57P01' || // admin shutdown
      code === '57P03') // cannot connect now
  );
}

export function createReleaseRegistryApp(options: ReleaseRegistryAppOptions): Hono {
  if (options.token.length === 0) {
    throw new InputError(
      'token: the Release Registry needs a non-empty write token (RELEASE_REGISTRY_TOKEN)',
    );
  }
  const store = options.store ?? new PostgresReleaseStore(options.pool, options.schema ?? DEFAULT_SCHEMA);
  const { token, diagnosticsSecret, log } = options;
  const logError = log ?? ((line: string) => console.error(line));
  const app = new Hono();

  if (options.version) {
    const version = options.version;
    app.use(async (c, next) => {
      await next();
      c.res.headers.set('Release-Registry-Version', version);
    });
  }

  if (log) {
    app.use(async (c, next) => {
      const started = performance.now();
      await next();
      const ms = (performance.now() - started).toFixed(1);
      log(`${new Date().toISOString()} ${c.req.method} ${c.req.path} ${c.res.status} ${ms}ms`);
    });
  }

  const requireToken: MiddlewareHandler = async (c, next) => {
    if (!bearerMatches(c.req.header('authorization'), token)) {
      throw new UnauthenticatedError(
        'this request changes the registry and needs "Authorization: Bearer <token>" with the registry write token (RELEASE_REGISTRY_TOKEN)',
      );
    }
    await next();
  };
  const limitBody = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) =>
      c.json(
        errorBody(
          ErrorCode.Input,
          `request body: larger than ${MAX_BODY_BYTES} bytes; send a smaller JSON body`,
        ),
        413,
      ),
  });

  if (diagnosticsSecret !== undefined) {
    app.get('/-/healthz', async (c) => {
      if (!bearerMatches(c.req.header('authorization'), diagnosticsSecret)) {
        throw new UnauthenticatedError('/-/healthz needs "Authorization: Bearer <DIAGNOSTICS_SECRET>"');
      }
      try {
        await store.ping();
      } catch (error) {
        throw new UnavailableError(
          'database: not answering "select 1"; check that PostgreSQL is up and reachable',
          {
            cause: error,
          },
        );
      }
      return c.json({ status: 'ok' });
    });
  }

  const product = (c: Context): string => parseInput(productNameSchema, c.req.param('product'), 'product');
  const version = (c: Context): string => parseInput(versionSchema, c.req.param('version'), 'version');

  app.get('/v1/releases', async (c) => c.json(await store.listAll()));

  app.post('/v1/releases', requireToken, limitBody, async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new InputError(
        'request body: not valid JSON; send a JSON object like {"name": "myproduct", "version": "v1.2.3", "git_sha": "3f2a9c1"}',
      );
    }
    const input = parseInput(newReleaseSchema, body, 'request body');
    return c.json(await store.create(input), 201);
  });

  app.get('/v1/releases/:product', async (c) => c.json(await store.listProduct(product(c))));

  app.get('/v1/releases/:product/latest', async (c) => {
    const name = product(c);
    const latest = await store.latestPublic(name);
    if (latest === undefined) {
      throw new NotFoundError(
        `${name} has no public release; promote one with POST /v1/releases/${name}/<version>/promote`,
      );
    }
    return c.json(latest);
  });

  app.get('/v1/releases/:product/:version', async (c) => {
    const [name, v] = [product(c), version(c)];
    const release = await store.get(name, v);
    if (release === undefined) {
      throw new NotFoundError(
        `release ${name} ${v} does not exist; GET /v1/releases/${name} lists its versions`,
      );
    }
    return c.json(release);
  });

  app.post('/v1/releases/:product/next/:series', async (c) => {
    const name = product(c);
    const match = /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$/.exec(c.req.param('series'));
    const [major, minor] = [Number(match?.[1]), Number(match?.[2])];
    if (!match || major > MAX_VERSION_NUMBER || minor > MAX_VERSION_NUMBER) {
      throw new InputError(
        `series: "${c.req.param('series')}" must be MAJOR.MINOR without a "v" (e.g. POST /v1/releases/${name}/next/5.3)`,
      );
    }
    return c.text(await store.nextPatchVersion(name, major, minor));
  });

  app.post('/v1/releases/:product/:version/promote', requireToken, async (c) =>
    c.json(await store.promote(product(c), version(c))),
  );

  app.notFound((c) =>
    c.json(
      errorBody(
        ErrorCode.NotFound,
        `no route for ${c.req.method} ${c.req.path}; the API is under /v1/releases (see the Release Registry README)`,
      ),
      404,
    ),
  );

  app.onError((error, c) => {
    if (isMspError(error)) {
      if (error.code === ErrorCode.Unavailable) logError(`error: ${error.message}: ${String(error.cause)}`);
      return c.json(errorBody(error.code, error.message), httpStatusOf(error) as ContentfulStatusCode);
    }
    if (isDatabaseUnavailable(error)) {
      logError(`error: database unavailable: ${String(error)}`);
      return c.json(
        errorBody(ErrorCode.Unavailable, 'the registry database is not reachable right now; retry shortly'),
        503,
      );
    }
    // Unexpected: log it for the operator, tell the caller only that it happened.
    logError(`error: ${c.req.method} ${c.req.path}: ${error.stack ?? String(error)}`);
    return c.json(errorBody(ErrorCode.Internal, 'internal error; the registry log has the details'), 500);
  });

  return app;
}
