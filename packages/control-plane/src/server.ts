/**
 * Starts a control plane: state database (embedded PostgreSQL, or DATABASE_URL), migrations, secrets,
 * the admin token, the job queue, the runtime target, the HTTP API and the reconciler.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import pg from 'pg';
import type PgBoss from 'pg-boss';
import type { Registry } from 'prom-client';
import { UnavailableError } from '@msp/core';
import { MSP_VERSION } from '@msp/core/version';
import { createApiApp, type ApiHooks, type ApiMount, type ApiRoutes } from './api/app.js';
import {
  dataDirOf,
  prepareDataDir,
  removeEndpoint,
  writeEndpoint,
  writeSecretFile,
  type DataDir,
} from './data-dir.js';
import { createMetrics } from './metrics.js';
import { createOperationEngine, type OperationEngine, type OperationHandler } from './operations/engine.js';
import { bringBackClones, reconcile, type ReconcileResult } from './reconciler.js';
import { createRepoState } from './repo-state.js';
import type { RuntimeTarget } from './runtime-port.js';
import {
  startRuntimeTargets,
  type RuntimeTargets,
  type TargetDeps,
  type TargetFactory,
} from './targets/registry.js';
import { createSecretBox, generateSecret, loadOrCreateKey } from './secrets.js';
import { createDb, type Db } from './state/db.js';
import { startEmbeddedState, superviseStateDatabase } from './state/embedded.js';
import { stateDatabaseHealth } from './state/health.js';
import { createJobQueue } from './state/job-queue.js';
import { stateDatabaseError } from './state/unavailable.js';
import { CORE_MIGRATIONS, migrateState, type MigrationSet } from './state/migrate.js';
import { createStateStore, type StateStore } from './state/store.js';

export interface ControlPlaneOptions {
  repoDir: string;
  dataDir?: string;
  host?: string;
  port: number;
  /** External state database; the embedded PostgreSQL is used when absent. */
  databaseUrl?: string;
  /**
   * The runtime targets by the runtime they run (an environment's `runtime`: local, kubernetes, gcp), each
   * built once the store exists. A deployment whose environment names a runtime without one is refused.
   */
  targets?: Readonly<Record<string, TargetFactory>>;
  /** One target, registered under its own name (`createRuntime: createLocalRuntime` = `targets: { local }`). */
  createRuntime?: TargetFactory;
  /** Feature modules (backups, rollouts): their operation handlers, API routes and schedules. */
  modules?: FeatureModule[];
  /** Reconcile on start and on repo changes (default true). */
  reconcile?: boolean;
  log?: (line: string) => void;
}

export interface FeatureContext {
  store: StateStore;
  /** The state database for the module's own tables (its `migrations`), through a narrow handle. */
  db: Db;
  boss: PgBoss;
  engine: OperationEngine;
  /** Every target as one RuntimeTarget, routed by deployment key. */
  runtime: RuntimeTarget;
  /** The targets by runtime: `targets.of(key)` is a deployment's own. */
  targets: RuntimeTargets;
  dataDir: DataDir;
  repoDir: string;
  log: (line: string) => void;
  /** The control plane's own /api/v1 in process, behind the same auth (the dashboard calls it as its user). */
  api: (request: Request) => Promise<Response>;
  /** The registry /metrics serves: a module adds its own gauges. */
  metrics?: Registry;
}

/** A capability plugged into the control plane: its operations, its routes, its schedules. */
export interface FeatureModule {
  readonly name: string;
  /** The module's own tables: applied with core's, under the same lock, before any `setup`. */
  readonly migrations?: MigrationSet;
  setup(ctx: FeatureContext): Promise<{
    handlers?: OperationHandler[];
    routes?: ApiRoutes[];
    /** Called after the engine started (schedules, background loops). */
    start?: () => Promise<void>;
    stop?: () => Promise<void>;
    /** Apps served outside /api/v1 with their own auth (the embedded Release Registry at /registry). */
    mounts?: ApiMount[];
    /** Authentication, authorization and audit around every /api/v1 call (access, audit modules). */
    apiHooks?: ApiHooks;
    /** Told what each reconcile did (the audit trail of config changes seen in the platform repo). */
    onReconciled?: (result: ReconcileResult, by: string) => Promise<void>;
  }>;
}

export interface ControlPlane {
  url: string;
  adminToken: string;
  dataDir: DataDir;
  store: StateStore;
  engine: OperationEngine;
  runtime: RuntimeTarget;
  targets: RuntimeTargets;
  reconcileNow(by?: string): Promise<ReconcileResult>;
  stop(): Promise<void>;
}

async function ensureAdminToken(store: StateStore, dir: DataDir): Promise<string> {
  if (existsSync(dir.adminToken)) {
    const token = (await readFile(dir.adminToken, 'utf8')).trim();
    if (await store.findToken(token)) return token;
  }
  const token = `msp_${generateSecret()}`;
  await store.addToken('admin', token, 'admin');
  await writeSecretFile(dir.adminToken, token + '\n');
  return token;
}

/** The targets to build: `targets`, else the one `createRuntime` builds, under its own name. */
async function factoriesOf(
  options: ControlPlaneOptions,
  deps: TargetDeps,
): Promise<Readonly<Record<string, TargetFactory>>> {
  if (options.targets && Object.keys(options.targets).length > 0) return options.targets;
  if (!options.createRuntime) throw new Error('startControlPlane needs targets (or createRuntime)');
  const target = await options.createRuntime(deps);
  return { [target.name]: () => Promise.resolve(target) };
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const log = options.log ?? ((line: string) => console.log(line));
  const dataDir = dataDirOf(options.dataDir ?? join(options.repoDir, '.msp'));
  await prepareDataDir(dataDir);
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse())
      await fn().catch((e: unknown) => log(`control plane: cleanup: ${String(e)}`));
    cleanups.length = 0;
  };
  try {
    let databaseUrl = options.databaseUrl;
    let embedded: Awaited<ReturnType<typeof startEmbeddedState>> | undefined;
    if (!databaseUrl) {
      log('control plane: starting the embedded state database');
      const state = await startEmbeddedState(dataDir);
      embedded = state;
      databaseUrl = state.url;
      cleanups.push(() => state.cluster.stop('fast'));
    }
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
    // A dropped idle connection is replaced on next use; a failed query is the caller's (state/unavailable.ts).
    pool.on('error', () => undefined);
    cleanups.push(() => pool.end());
    try {
      await pool.query('select 1');
    } catch (error) {
      throw new UnavailableError(
        `Cannot reach the state database: ${(error as Error).message}. Check DATABASE_URL.`,
        {
          cause: error,
        },
      );
    }
    const db = createDb(pool);
    const modules = options.modules ?? [];
    const applied = await migrateState(db, [
      CORE_MIGRATIONS,
      ...modules.flatMap((m) => (m.migrations ? [m.migrations] : [])),
    ]);
    if (applied.length > 0) log(`control plane: applied migrations ${applied.join(', ')}`);
    const store = createStateStore(pool, createSecretBox(await loadOrCreateKey(dataDir.secretKey)));
    const adminToken = await ensureAdminToken(store, dataDir);
    if (embedded) {
      // Stopped before the pool and the cluster, after everything that still writes state while stopping.
      const watchdog = superviseStateDatabase(embedded.cluster, {
        log,
        restarted: () =>
          store.addEvent({
            kind: 'state-database-restarted',
            message:
              "The control plane's state database was not running and was started again (crash recovery)",
          }),
      });
      cleanups.push(() => watchdog.stop());
    }

    const health = stateDatabaseHealth(databaseUrl);
    const queue = createJobQueue(databaseUrl, { log, health });
    const boss = queue.boss;
    await boss.start();
    cleanups.push(() => queue.stop());

    const targetDeps: TargetDeps = { store, dataDir, repoDir: options.repoDir };
    const targets = await startRuntimeTargets(await factoriesOf(options, targetDeps), targetDeps);
    cleanups.push(() => targets.stop());
    const runtime = targets.view;

    const owner = `cp-${process.pid}-${randomUUID().slice(0, 8)}`;
    const engine = createOperationEngine({ store, boss, handlers: [targets.handler], owner, log });
    cleanups.push(() => engine.stop());
    cleanups.push(() => Promise.resolve(queue.close())); // before the engine stops its workers

    const metrics = createMetrics(store, runtime);
    const routes: ApiRoutes[] = [];
    const mounts: ApiMount[] = [];
    const starts: Array<() => Promise<void>> = [];
    const apiHooks: Required<ApiHooks> = { authenticate: [], middleware: [], databaseAccess: [] };
    const reconciled: Array<NonNullable<Awaited<ReturnType<FeatureModule['setup']>>['onReconciled']>> = [];
    const served: { fetch?: (request: Request) => Promise<Response> } = {};
    const api = async (request: Request) => {
      if (!served.fetch) throw new UnavailableError('The control plane API is not serving yet.');
      return served.fetch(request);
    };
    for (const m of modules) {
      const parts = await m.setup({
        store,
        db,
        boss,
        engine,
        runtime,
        targets,
        dataDir,
        repoDir: options.repoDir,
        log,
        api,
        metrics,
      });
      for (const h of parts.handlers ?? []) engine.register(h);
      routes.push(...(parts.routes ?? []));
      mounts.push(...(parts.mounts ?? []));
      for (const k of ['authenticate', 'middleware', 'databaseAccess'] as const)
        (apiHooks[k] as unknown[]).push(...(parts.apiHooks?.[k] ?? []));
      if (parts.onReconciled) reconciled.push(parts.onReconciled);
      if (parts.start) starts.push(parts.start);
      if (parts.stop) cleanups.push(parts.stop);
    }

    const repoState = createRepoState({ store, log });
    const reconcileNow = async (by = 'reconciler') => {
      const result = await reconcile({ repoDir: options.repoDir, store, engine, targets, by });
      await repoState.record(result.diagnostics);
      for (const r of reconciled) await r(result, by).catch((e: unknown) => log(`reconciler: ${String(e)}`));
      for (const a of result.actions) {
        log(`reconciler: ${a.kind} ${a.key}: ${a.reason}${a.error ? ` (not queued: ${a.error})` : ''}`);
      }
      return result;
    };

    const app = createApiApp({
      hooks: apiHooks,
      routes,
      mounts,
      store,
      engine,
      runtime,
      reconcile: async (by) => (await reconcileNow(by)).actions,
      metrics,
      health,
      repo: () => repoState.current() ?? null,
      repoDir: options.repoDir,
      info: () => ({
        version: MSP_VERSION,
        repo: options.repoDir,
        dataDir: dataDir.root,
        proxyUrl: runtime.proxyUrl() ?? null,
        runtime: runtime.name,
        pid: process.pid,
      }),
    });
    served.fetch = async (request) => app.fetch(request);
    const host = options.host ?? '127.0.0.1';
    const server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: options.port, hostname: host }, () => resolve(s));
      s.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          e.code === 'EADDRINUSE'
            ? new UnavailableError(`Port ${options.port} is in use; pick another with --port.`, { cause: e })
            : e,
        ),
      );
    });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        }),
    );
    const url = `http://${host}:${options.port}`;
    const proxyUrl = runtime.proxyUrl();
    await writeEndpoint(dataDir, {
      url,
      ...(proxyUrl ? { proxyUrl } : {}),
      pid: process.pid,
      startedAt: new Date().toISOString(),
      repo: options.repoDir,
    });
    cleanups.push(() => removeEndpoint(dataDir, process.pid));

    await engine.start();
    for (const start of starts) await start();

    if (options.reconcile !== false) {
      await reconcileNow();
      for (const a of await bringBackClones({ store, engine, targets, by: 'reconciler' })) {
        log(`reconciler: ${a.kind} ${a.key}: ${a.reason}${a.error ? ` (not done: ${a.error})` : ''}`);
      }
      let timer: NodeJS.Timeout | undefined;
      const schedule = () => {
        clearTimeout(timer);
        timer = setTimeout(
          () => void reconcileNow().catch((e: unknown) => log(`reconciler: ${String(e)}`)),
          500,
        );
      };
      let watcher: FSWatcher | undefined;
      try {
        watcher = watch(options.repoDir, { recursive: true }, (_event, file) => {
          if (file && !String(file).startsWith('.msp') && /\.(ya?ml|md)$/.test(String(file))) schedule();
        });
        // The recursive watcher also crawls .msp, where dirs come and go (release extraction): not fatal.
        watcher.on('error', (e) => log(`reconciler: watching the repo: ${e.message}`));
      } catch {
        log('reconciler: cannot watch the repo; reconciling every 30 s only');
      }
      const periodic = setInterval(schedule, 30_000);
      cleanups.push(() => {
        watcher?.close();
        clearInterval(periodic);
        clearTimeout(timer);
        return Promise.resolve();
      });
    }

    return {
      url,
      adminToken,
      dataDir,
      store,
      engine,
      runtime,
      targets,
      reconcileNow,
      stop: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw stateDatabaseError(error);
  }
}
