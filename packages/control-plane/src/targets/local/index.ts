/**
 * The local runtime target: each deployment runs as supervised processes on this machine, behind one HTTP
 * proxy, with its own PostgreSQL cluster and volume directories under the data dir. This file wires the
 * parts: deploy-steps (its operations), workload and generations (instances), databases and volumes (the
 * capabilities backups use), credentials and database-watchdog (background loops), status (what it reports).
 */
import { fileURLToPath } from 'node:url';
import { runtimeOf, UnavailableError, type DeploymentSpec } from '@msp/core';
import {
  createArtifactStore,
  createProxy,
  createSupervisor,
  findNodeModules,
  reapStaleInstances,
  serviceOsUser,
  type PostgresCluster,
  type Proxy,
} from '@msp/runtime-local';
import type { DataDir } from '../../data-dir.js';
import { minInstancesOf } from '../../deployments/health.js';
import type { RuntimeTarget, Workloads } from '../../runtime-port.js';
import type { StateStore } from '../../state/store.js';
import {
  applyGenerations,
  clusterOf,
  pathsOf,
  refreshRoute,
  type LocalContext,
  type LocalPaths,
} from './context.js';
import { startCredentialRevoker } from './credentials.js';
import { startWalStreams } from './wal-streams.js';
import { startDatabaseWatchdog } from './database-watchdog.js';
import { createDatabases } from './databases.js';
import { createStepRunner, localSteps } from './deploy-steps.js';
import { watchInstanceHealth } from './health-events.js';
import { createSignals } from './signals.js';
import { createStatusViews } from './status.js';
import { createVolumes } from './volumes.js';
import { runTask } from './task.js';
import { ensureInstances } from './workload.js';

export { hostnamesOf } from './workload.js';
export type { LocalPaths } from './context.js';

export interface LocalRuntimeOptions {
  store: StateStore;
  dataDir: DataDir;
  repoDir: string;
  proxyPort: number;
  log?: (line: string) => void;
  /**
   * How long a new release is watched after traffic moved to it before the previous one is stopped
   * (default 3 s, or MSP_SOAK_SECONDS); an operation's `input.soakSeconds` overrides it.
   */
  soakMs?: number;
}

/**
 * The local target, with what only it has: where a deployment's files are and its cluster object. Tests and
 * local tooling use these; features go through the RuntimeTarget capabilities.
 */
export interface LocalRuntime extends RuntimeTarget {
  paths(key: string): LocalPaths;
  /** The deployment's cluster object (not necessarily started); undefined when its spec has no PostgreSQL. */
  cluster(key: string): Promise<PostgresCluster | undefined>;
}

export async function createLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const { store, dataDir } = options;
  const log = options.log ?? (() => undefined);

  // A control plane that died left its children running (they are detached): stop them, so nothing runs twice.
  const reaped = await reapStaleInstances(dataDir.logs);
  if (reaped.length > 0)
    log(`local runtime: stopped ${reaped.length} instance(s) or task(s) left by a previous control plane`);

  // Nothing of this target runs now (a stale instance was just stopped): a status a previous control plane
  // wrote ("healthy") is not true until a deploy starts the instances again.
  for (const row of await store.listDeployments()) {
    const spec = row.spec as DeploymentSpec;
    if (row.desiredState !== 'running' || !['healthy', 'degraded'].includes(row.status)) continue;
    if (runtimeOf(spec) !== 'local') continue;
    await store.setStatus(
      row.key,
      'starting',
      `0/${minInstancesOf(spec)} instances running since the control plane started`,
    );
  }

  let proxy: Proxy;
  try {
    proxy = await createProxy({ port: options.proxyPort, host: '127.0.0.1', pendingTimeoutMs: 5000 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new UnavailableError(
        `Proxy port ${options.proxyPort} is in use; pick another with --proxy-port.`,
        { cause: error },
      );
    }
    throw error;
  }
  const c: LocalContext = {
    store,
    dataDir,
    log,
    supervisor: createSupervisor({ logDir: dataDir.logs }),
    proxy,
    artifacts: createArtifactStore({ root: dataDir.root }),
    // Bundles have no node_modules of their own: they resolve modules from this installation's.
    ownNodeModules: findNodeModules(fileURLToPath(new URL('.', import.meta.url))),
    serviceUser: await serviceOsUser(),
    defaultSoakMs:
      options.soakMs ??
      (process.env.MSP_SOAK_SECONDS !== undefined ? Number(process.env.MSP_SOAK_SECONDS) * 1000 : 3000),
    deployments: new Map(),
    clusters: new Map(),
    stopping: new Set(),
    supervisedDatabases: new Set(),
  };
  watchInstanceHealth(c);
  const steps = createStepRunner(c);

  const workloads: Workloads = {
    async stop(key) {
      const d = c.deployments.get(key);
      if (!d) return;
      await applyGenerations(c, key, { type: 'stopped' });
      // Requests wait at the proxy (then 503) instead of reaching stopped processes.
      if (d.hostnames.length > 0) proxy.setRoute(d.hostnames, []);
    },
    async start(key, ctx) {
      const row = await store.requireDeployment(key);
      const detail = await ensureInstances(c, row, row.spec as DeploymentSpec, ctx);
      await applyGenerations(c, key, { type: 'settled' });
      refreshRoute(c, key);
      // The deployment runs normally again (after an in-place restore): its database is watched again.
      if (row.managedBy === 'repo' && (await c.clusters.get(key)?.isRunning()))
        c.supervisedDatabases.add(key);
      return detail;
    },
    runTask: (key, task, ctx) => runTask(c, key, task, ctx),
  };

  const stopRevoker = startCredentialRevoker({ clusters: () => c.clusters.entries(), store, log });
  const watchdog = startDatabaseWatchdog(c);
  const walStreams = startWalStreams(c);

  return {
    name: 'local',
    steps: localSteps,
    runStep: (step, ctx) => steps.runStep(step, ctx),
    onFinished: (op) => steps.onFinished(op),
    workloads,
    databases: createDatabases(c),
    volumes: createVolumes(c),
    ...createStatusViews(c),
    ...createSignals(c),
    paths: (key) => pathsOf(dataDir, key),
    cluster: (key) => clusterOf(c, key),
    async stop() {
      watchdog.stop();
      await walStreams.stop();
      stopRevoker();
      for (const s of c.supervisor.status()) c.stopping.add(s.id);
      await c.supervisor.stopAll({ drainMs: 5000 });
      await proxy.close();
      await Promise.all([...c.clusters.values()].map((cl) => cl.stop('fast').catch(() => undefined)));
      c.clusters.clear();
    },
  };
}
