/**
 * The local runtime target: each deployment runs as supervised processes on this machine, behind one HTTP
 * proxy, with its own PostgreSQL cluster and volume directories under the data dir. It implements the
 * steps of deploy / stop / delete operations; every step is idempotent so a resumed operation is safe.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PreconditionFailedError, UnavailableError, healthGateVerdict } from '@msp/core';
import {
  createArtifactStore,
  createPostgresCluster,
  createProxy,
  createSupervisor,
  findFreePort,
  findNodeModules,
  probeHttp,
  probeSpecFor,
  readLogs,
  reapStaleInstances,
  type InstanceStatus,
  type PostgresCluster,
  type Proxy,
  type Supervisor,
} from '@msp/runtime-local';
import type { DataDir } from '../data-dir.js';
import { slugOf } from '../data-dir.js';
import { stepsOf } from '@msp/core';
import type { OperationHandler, StepContext } from '../operations/engine.js';
import type { DeploymentSpec } from '../reconciler.js';
import type { DeploymentRuntimeStatus, LocalResources, RuntimeTarget } from '../runtime-port.js';
import { generateSecret } from '../secrets.js';
import type { DeploymentRow, StateStore } from '../state/store.js';

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

/** One set of instances of a deployment started together (one release, one spec). */
interface Generation {
  id: string;
  specHash: string;
  release: string;
  /** The artifact digest the code came from; absent for the working tree (build.local.dir). */
  digest?: string;
  instanceIds: string[];
  /** Restarts of each instance when the generation passed its startup gate. */
  restartsAtStart?: Record<string, number>;
}

interface LocalDeployment {
  current?: Generation;
  /** The generation being replaced: still serving until the route moves, then drained and stopped. */
  previous?: Generation;
  hostnames: string[];
}

const envName = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, '_');

export function hostnamesOf(spec: DeploymentSpec): string[] {
  const local =
    spec.kind === 'instance' && spec.instance
      ? `${spec.instance.id}.${spec.instance.environment}.localhost`
      : `${spec.service.service.id}.${spec.environment.id}.localhost`;
  return [local, ...(spec.domain ? [spec.domain] : [])];
}

function releaseOf(spec: DeploymentSpec, codeDir: string): string {
  if (spec.instance?.version) return spec.instance.version;
  try {
    const pkg = JSON.parse(readFileSync(join(codeDir, 'package.json'), 'utf8')) as { version?: string };
    if (pkg.version) return `v${pkg.version.replace(/^v/, '')}`;
  } catch {
    // no package.json: the working tree is the release
  }
  return 'working-tree';
}

export async function createLocalRuntime(options: LocalRuntimeOptions): Promise<RuntimeTarget> {
  const { store, dataDir } = options;
  const log = options.log ?? (() => undefined);
  const defaultSoakMs =
    options.soakMs ??
    (process.env.MSP_SOAK_SECONDS !== undefined ? Number(process.env.MSP_SOAK_SECONDS) * 1000 : 3000);
  const artifacts = createArtifactStore({ root: dataDir.root });
  // Bundles have no node_modules of their own: they resolve modules from this installation's.
  const ownNodeModules = findNodeModules(fileURLToPath(new URL('.', import.meta.url)));

  // A control plane that died left its children running (they are detached): stop them, so nothing runs twice.
  const reaped = await reapStaleInstances(dataDir.logs);
  if (reaped.length > 0)
    log(`local runtime: stopped ${reaped.length} instance(s) left by a previous control plane`);

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
  const supervisor: Supervisor = createSupervisor({ logDir: dataDir.logs });
  const deployments = new Map<string, LocalDeployment>();
  const clusters = new Map<string, PostgresCluster>();
  const stopping = new Set<string>();
  /**
   * Databases the watchdog keeps running: those a deploy started and whose workload runs. A stop or a restore
   * (which stops the database on purpose, or builds a clone's) takes a deployment out until it runs again.
   */
  const supervisedDatabases = new Set<string>();

  const stateOf = (key: string) => {
    let d = deployments.get(key);
    if (!d) deployments.set(key, (d = { hostnames: [] }));
    return d;
  };
  const deploymentOfInstance = (id: string) => id.slice(0, id.lastIndexOf('#'));
  const instancesOf = (g: Generation | undefined): InstanceStatus[] =>
    (g?.instanceIds ?? [])
      .map((id) => supervisor.get(id))
      .filter((s): s is InstanceStatus => s !== undefined);

  /** Points the proxy at the healthy instances of the serving generation (never at an unhealthy one). */
  function refreshRoute(key: string): void {
    const d = deployments.get(key);
    if (!d || d.hostnames.length === 0 || !d.current) return;
    let healthy = instancesOf(d.current).filter((s) => s.state.kind === 'healthy');
    // A new release that lost its health while the previous one still runs (the soak): serve the previous.
    if (healthy.length === 0 && d.previous) {
      healthy = instancesOf(d.previous).filter((s) => s.state.kind === 'healthy');
    }
    proxy.setRoute(
      d.hostnames,
      healthy.map((s) => ({ id: s.id, port: s.port })),
    );
  }

  supervisor.on('exit', ({ id, code, signal }) => {
    if (stopping.has(id)) return;
    const key = deploymentOfInstance(id);
    void (async () => {
      await store.addRestart(key);
      await store.addEvent({
        deploymentKey: key,
        kind: 'instance-exited',
        message: `${id} exited (${signal ?? `code ${code}`}); restarting`,
        data: { instance: id, code, signal },
      });
    })().catch(() => undefined);
  });
  supervisor.on('state', ({ id, previous, status }) => {
    const key = deploymentOfInstance(id);
    const d = deployments.get(key);
    // Instances being stopped on purpose change nothing: a stop removes the route itself.
    if (!d?.current?.instanceIds.includes(id) || stopping.has(id)) return;
    refreshRoute(key);
    const all = instancesOf(d.current);
    const healthy = all.filter((s) => s.state.kind === 'healthy').length;
    const failed = all.find((s) => s.state.kind === 'precondition_failed');
    // While an operation drives the deployment it owns the status; afterwards health changes show here.
    if (previous.kind === 'healthy' || (status.state.kind === 'healthy' && previous.kind !== 'starting')) {
      const next = healthy === all.length ? 'healthy' : failed ? 'failed' : 'degraded';
      void store
        .setStatus(key, next, next === 'healthy' ? null : `${healthy}/${all.length} instances healthy`)
        .then(() =>
          store.addEvent({
            deploymentKey: key,
            kind: `health-${next}`,
            message: `${id}: ${previous.kind} → ${status.state.kind}`,
          }),
        )
        .catch(() => undefined);
    }
  });

  async function clusterFor(row: DeploymentRow, spec: DeploymentSpec): Promise<PostgresCluster | undefined> {
    const pgSpec = spec.environment.resources?.postgreSQL;
    if (!pgSpec) return undefined;
    let cluster = clusters.get(row.key);
    if (cluster) return cluster;
    let port = row.ports.postgres;
    if (!port) {
      port = await findFreePort();
      await store.setPorts(row.key, { ...row.ports, postgres: port });
    }
    const secret = (name: string) => store.ensureSecret(row.key, name, generateSecret);
    const slug = slugOf(row.key);
    cluster = createPostgresCluster({
      name: slug,
      dir: join(dataDir.clusters, slug),
      port,
      databases: pgSpec.databases,
      maxConnections: pgSpec.maxConnections,
      archiveDir: join(dataDir.archive, slug),
      archiveTimeoutSeconds: spec.envConfig.backups?.archiveTimeoutSeconds ?? 60,
      passwords: {
        admin: await secret('pg-admin'),
        workload: await secret('pg-workload'),
        operator: await secret('pg-operator'),
      },
    });
    clusters.set(row.key, cluster);
    return cluster;
  }

  async function instanceEnv(
    row: DeploymentRow,
    spec: DeploymentSpec,
    release: string,
  ): Promise<Record<string, string>> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'production',
      MSP: 'true',
      ENVIRONMENT_ID: spec.environment.id,
      EXTERNAL_DNS_NAME: spec.domain ?? hostnamesOf(spec)[0]!,
      DIAGNOSTICS_SECRET: await store.ensureSecret(row.key, 'diagnostics', generateSecret),
      MSP_SERVICE: spec.service.service.id,
      MSP_DEPLOYMENT: row.key,
      MSP_RELEASE: release,
      ...(spec.environment.env ?? {}),
    };
    if (spec.instance) {
      env.MSP_INSTANCE_ID = spec.instance.id;
      env.MSP_INSTANCE_CUSTOMER = spec.instance.customer;
      env.MSP_INSTANCE_TYPE = spec.instance.type;
    }
    for (const [name, secretName] of Object.entries(spec.environment.secretEnv ?? {})) {
      env[name] = await store.ensureSecret(row.key, `env:${secretName}`, generateSecret);
    }
    const pgSpec = spec.environment.resources?.postgreSQL;
    if (pgSpec) {
      const cluster = await clusterFor(row, spec);
      const cfg = cluster!.connectionConfig('workload', pgSpec.databases[0]!);
      env.PGHOST = String(cfg.host);
      env.PGPORT = String(cfg.port);
      env.PGUSER = String(cfg.user);
      env.PGPASSWORD = String(cfg.password);
      env.PGDATABASE = pgSpec.databases[0]!;
      for (const db of pgSpec.databases) env[`PGDATABASE_${envName(db)}`] = db;
    }
    for (const v of spec.environment.resources?.volumes ?? []) {
      env[`VOLUME_${envName(v.name)}`] = join(dataDir.volumes, slugOf(row.key), v.name);
    }
    return env;
  }

  const gateInstance = (s: InstanceStatus, restartsBefore = 0) => ({
    id: s.id,
    state: s.state.kind,
    restarts: s.restarts - restartsBefore,
    ...(s.state.kind === 'precondition_failed'
      ? { reason: s.state.reason }
      : s.lastError
        ? { reason: s.lastError }
        : {}),
  });

  async function startupGate(ids: string[], limitMs: number) {
    const started = Date.now();
    for (;;) {
      const all = ids.map((id) => supervisor.get(id)).filter((s): s is InstanceStatus => s !== undefined);
      const verdict = healthGateVerdict({
        phase: 'startup',
        instances: all.map((s) => gateInstance(s)),
        elapsedMs: Date.now() - started,
        limitMs,
      });
      if (verdict.kind !== 'wait') return verdict;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * The soak: after the switch, the new generation is probed on its own (more often than liveness) while
   * the previous one keeps running; a crash or failed probes end it with a failure.
   */
  async function soak(g: Generation, soakMs: number, secret: string, timeoutMs: number) {
    const started = Date.now();
    const failuresInARow = new Map<string, number>();
    for (;;) {
      const all = instancesOf(g);
      await Promise.all(
        all.map(async (s) => {
          const r = await probeHttp({ port: s.port, path: '/-/healthz', secret, timeoutMs });
          failuresInARow.set(s.id, r.ok ? 0 : (failuresInARow.get(s.id) ?? 0) + 1);
        }),
      );
      const verdict = healthGateVerdict({
        phase: 'soak',
        instances: all.map((s) => gateInstance(s, g.restartsAtStart?.[s.id] ?? 0)),
        elapsedMs: Date.now() - started,
        limitMs: soakMs,
        probeFailures: Math.max(0, ...failuresInARow.values()),
      });
      if (verdict.kind !== 'wait') return verdict;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async function stopGeneration(g: Generation | undefined, drainMs: number): Promise<void> {
    if (!g) return;
    await Promise.all(
      g.instanceIds.map(async (id) => {
        stopping.add(id);
        try {
          await proxy.drain(id);
          await supervisor.stop(id, { drainMs });
        } finally {
          stopping.delete(id);
        }
      }),
    );
  }

  /** Starts a new generation beside the serving one unless the serving one already runs this spec healthy. */
  async function ensureInstances(
    row: DeploymentRow,
    spec: DeploymentSpec,
    ctx: StepContext,
  ): Promise<string> {
    const d = stateOf(row.key);
    d.hostnames = hostnamesOf(spec);
    const running = instancesOf(d.current);
    const target = row.targetRelease;
    const digest = target?.artifact?.digest;
    if (
      d.current?.specHash === row.specHash &&
      d.current.digest === digest &&
      (!target || d.current.release === target.version) &&
      running.length > 0 &&
      running.every((s) => s.state.kind === 'healthy')
    ) {
      return `${running.length} instance(s) of ${d.current.release} already healthy`;
    }
    const local = spec.service.build?.local;
    if (!local) {
      throw new PreconditionFailedError(
        `Service ${spec.service.service.id} has no build.local: declare how the local runtime starts it (build.local.dir and build.local.command).`,
      );
    }
    const workingTree = resolve(spec.serviceDir, local.dir);
    let codeDir = workingTree;
    if (digest) {
      // The release's own code, verified against its digest before every start.
      const nodeModules = findNodeModules(workingTree) ?? ownNodeModules;
      codeDir = await artifacts.extract(digest, nodeModules ? { nodeModules } : {});
    } else if (!existsSync(codeDir)) {
      throw new PreconditionFailedError(
        `build.local.dir of ${spec.service.service.id} does not exist: ${codeDir}`,
      );
    }
    for (const v of spec.environment.resources?.volumes ?? []) {
      await mkdir(join(dataDir.volumes, slugOf(row.key), v.name), { recursive: true });
    }
    const release = target?.version ?? releaseOf(spec, codeDir);
    const env = await instanceEnv(row, spec, release);
    const probes = spec.environment.healthProbes;
    const timeoutMs = (probes?.timeout ?? 3) * 1000;
    const probe = probeSpecFor({
      secret: env.DIAGNOSTICS_SECRET!,
      timeoutMs,
      startupIntervalMs: (probes?.startupInterval ?? probes?.timeout ?? 3) * 1000,
      livenessIntervalMs: (probes?.livenessInterval ?? 10 * (probes?.timeout ?? 3)) * 1000,
    });
    const command = local.command.map((c, i) => (i === 0 && c === 'node' ? process.execPath : c));
    const count = Math.max(1, spec.environment.instances?.scaling?.minCount ?? 1);
    const generation: Generation = {
      id: Date.now().toString(36),
      specHash: row.specHash,
      release,
      ...(digest ? { digest } : {}),
      instanceIds: [],
    };
    for (let i = 1; i <= count; i++) {
      const id = `${row.key}#${generation.id}-${i}`;
      supervisor.start({
        id,
        deployment: slugOf(row.key),
        release,
        command,
        cwd: codeDir,
        env,
        port: await findFreePort(),
        probe,
      });
      generation.instanceIds.push(id);
    }
    await ctx.log(
      `started ${count} instance(s) of ${release} from ${digest ? `artifact ${digest} (verified)` : codeDir}`,
    );
    // The startup gate: every instance healthy before any traffic moves; a crash loop or a startup probe
    // timeout fails it, and traffic stays where it is.
    const gate = await startupGate(generation.instanceIds, probe.startupDeadlineMs + 2000);
    const settled = instancesOf(generation);
    if (gate.kind === 'fail') {
      const first = settled.find((s) => s.state.kind !== 'healthy') ?? settled[0];
      await stopGeneration(generation, 0);
      const tail = first?.stderrTail.slice(-5).join('\n    ') ?? '';
      const stays = d.current ? `; traffic stays on ${d.current.release}` : '';
      throw new PreconditionFailedError(
        `${release} failed its health gate: ${gate.reason}${first?.lastError && !gate.reason.includes(first.lastError) ? ` (${first.lastError})` : ''}${stays}${tail ? `\n    ${tail}` : ''}`,
      );
    }
    generation.restartsAtStart = Object.fromEntries(settled.map((s) => [s.id, s.restarts]));
    if (d.current) d.previous = d.current;
    d.current = generation;
    const latency = Math.max(...settled.map((s) => s.startupLatencyMs ?? 0));
    return `${count} instance(s) of ${release} healthy (startup ${latency} ms)`;
  }

  const deploySteps: Record<
    string,
    (row: DeploymentRow, spec: DeploymentSpec, ctx: StepContext) => Promise<string | void>
  > = {
    async secrets(row, spec) {
      await store.setStatus(row.key, 'deploying', 'preparing secrets');
      const names = [
        'diagnostics',
        ...Object.values(spec.environment.secretEnv ?? {}).map((n) => `env:${n}`),
      ];
      for (const n of names) await store.ensureSecret(row.key, n, generateSecret);
      return `${names.length} secret(s) ready`;
    },
    async database(row, spec, ctx) {
      const cluster = await clusterFor(row, spec);
      if (!cluster) return 'no PostgreSQL in the spec';
      await store.setStatus(row.key, 'deploying', 'starting PostgreSQL');
      await cluster.ensure();
      supervisedDatabases.add(row.key);
      await ctx.log(`PostgreSQL on port ${cluster.options.port}: ${cluster.options.databases.join(', ')}`);
      return `PostgreSQL :${cluster.options.port} (${cluster.options.databases.join(', ')})`;
    },
    async volumes(row, spec) {
      const volumes = spec.environment.resources?.volumes ?? [];
      for (const v of volumes)
        await mkdir(join(dataDir.volumes, slugOf(row.key), v.name), { recursive: true });
      return volumes.length ? volumes.map((v) => v.name).join(', ') : 'no volumes';
    },
    async instances(row, spec, ctx) {
      await store.setStatus(row.key, 'deploying', 'starting instances');
      return ensureInstances(row, spec, ctx);
    },
    async route(row, spec, ctx) {
      const d = stateOf(row.key);
      // A resumed operation may find no instances (the previous control plane took them along): start them.
      if (instancesOf(d.current).length === 0) await ensureInstances(row, spec, ctx);
      refreshRoute(row.key);
      const old = d.previous;
      const fresh = d.current!;
      const input = ctx.operation.input as { soakSeconds?: unknown };
      const soakMs = typeof input.soakSeconds === 'number' ? input.soakSeconds * 1000 : defaultSoakMs;
      if (old && soakMs > 0 && instancesOf(old).some((s) => s.state.kind === 'healthy')) {
        await ctx.log(
          `traffic moved to ${fresh.release}; soaking ${soakMs / 1000} s with ${old.release} kept running`,
        );
        const probes = spec.environment.healthProbes;
        const verdict = await soak(
          fresh,
          soakMs,
          await store.ensureSecret(row.key, 'diagnostics', generateSecret),
          (probes?.timeout ?? 3) * 1000,
        );
        if (verdict.kind === 'fail') {
          // Back to the previous release: route first, then take the failed one down.
          d.current = old;
          d.previous = undefined;
          refreshRoute(row.key);
          await ctx.log(
            `${fresh.release} failed the soak: ${verdict.reason}; traffic is back on ${old.release}`,
            'warn',
          );
          await stopGeneration(fresh, 5000);
          throw new PreconditionFailedError(
            `${fresh.release} failed its health gate: ${verdict.reason}; traffic returned to ${old.release}`,
          );
        }
      }
      d.previous = undefined;
      if (old) {
        await stopGeneration(old, 10_000);
        await ctx.log(`drained and stopped the previous instances (${old.release})`);
      }
      return `${d.hostnames.join(', ')} → ${d.current?.instanceIds.length ?? 0} instance(s) of ${fresh.release}`;
    },
    async record(row, spec) {
      const d = stateOf(row.key);
      await store.setDesiredState(row.key, 'running');
      await store.markApplied(row.key, row.specHash);
      await store.setStatus(row.key, 'healthy', null, d.current?.release ?? null);
      await store.addEvent({
        deploymentKey: row.key,
        kind: 'deployed',
        message: `${spec.service.service.id} ${d.current?.release ?? ''} deployed to ${spec.environment.id}`,
      });
      return d.current?.release;
    },
  };

  async function stopDeployment(key: string, step: string): Promise<string> {
    const d = deployments.get(key);
    if (step === 'route') {
      if (d?.hostnames.length) proxy.removeRoute(d.hostnames);
      return 'route removed';
    }
    if (step === 'instances') {
      await stopGeneration(d?.previous, 10_000);
      await stopGeneration(d?.current, 10_000);
      deployments.delete(key);
      return 'instances stopped';
    }
    if (step === 'database') {
      supervisedDatabases.delete(key);
      const cluster = clusters.get(key);
      if (cluster) {
        await cluster.stop('fast');
        clusters.delete(key);
        return 'PostgreSQL stopped';
      }
      return 'no PostgreSQL running';
    }
    throw new Error(`unknown stop step ${step}`);
  }

  const handler: OperationHandler = {
    kinds: ['deploy', 'stop', 'delete'],
    steps: (kind) => stepsOf[kind] ?? [],
    async runStep(step, ctx) {
      const { kind, deploymentKey: key } = ctx.operation;
      const row = await store.requireDeployment(key);
      const spec = row.spec as DeploymentSpec;
      // Rollout kinds (deliver, promote, rollback, deploy-release) run the deploy steps too.
      if (kind !== 'stop' && kind !== 'delete') {
        const run = deploySteps[step];
        if (!run) throw new Error(`the local runtime has no deploy step ${step}`);
        return run(row, spec, ctx);
      }
      if (step === 'record') {
        if (kind === 'delete') {
          await store.deleteSecrets(key);
          await store.removeDeployment(key);
          return 'deleted';
        }
        await store.setDesiredState(key, 'stopped');
        await store.setStatus(key, 'stopped', 'stopped; data kept until `delete`');
        return 'stopped';
      }
      if (step === 'data') {
        const slug = slugOf(key);
        await rm(join(dataDir.clusters, slug), { recursive: true, force: true });
        await rm(join(dataDir.volumes, slug), { recursive: true, force: true });
        await ctx.log('removed the cluster and volume data (the WAL archive is kept)');
        return 'data removed';
      }
      if (step === 'database' && !clusters.has(key)) {
        // A resumed stop in a new control plane: the cluster may still run from before.
        const cluster = await clusterFor(row, spec);
        if (cluster && (await cluster.isRunning())) await cluster.stop('fast');
        clusters.delete(key);
        return 'PostgreSQL stopped';
      }
      return stopDeployment(key, step);
    },
    async onFinished(op) {
      if (op.status === 'failed' && op.kind === 'deploy') {
        const d = deployments.get(op.deploymentKey);
        const serving = instancesOf(d?.current).some((s) => s.state.kind === 'healthy');
        await store.setStatus(op.deploymentKey, serving ? 'degraded' : 'failed', op.error ?? 'deploy failed');
      }
    },
  };

  const pathsOf = (key: string) => {
    const slug = slugOf(key);
    return {
      cluster: join(dataDir.clusters, slug),
      archive: join(dataDir.archive, slug),
      volumes: join(dataDir.volumes, slug),
    };
  };
  const local: LocalResources = {
    paths: pathsOf,
    async database(key) {
      const row = await store.requireDeployment(key);
      return clusterFor(row, row.spec as DeploymentSpec);
    },
    async stopWorkload(key) {
      const d = deployments.get(key);
      await stopGeneration(d?.previous, 10_000);
      await stopGeneration(d?.current, 10_000);
      if (d) {
        d.previous = undefined;
        d.current = undefined;
        // Requests wait at the proxy (then 503) instead of reaching stopped processes.
        if (d.hostnames.length > 0) proxy.setRoute(d.hostnames, []);
      }
    },
    async startWorkload(key, ctx) {
      const row = await store.requireDeployment(key);
      const detail = await ensureInstances(row, row.spec as DeploymentSpec, ctx);
      refreshRoute(key);
      // The deployment runs normally again (after an in-place restore): its database is watched again.
      if (row.managedBy === 'repo' && (await clusters.get(key)?.isRunning())) supervisedDatabases.add(key);
      return detail;
    },
    async stopDatabase(key) {
      supervisedDatabases.delete(key);
      const row = await store.requireDeployment(key);
      const cluster = await clusterFor(row, row.spec as DeploymentSpec);
      if (cluster && (await cluster.isRunning())) await cluster.stop('fast');
    },
  };

  // Temporary database credentials end when their time is up: drop expired roles and their sessions.
  const revoker = setInterval(() => {
    for (const c of clusters.values()) void c.revokeExpiredCredentials().catch(() => undefined);
  }, 5000);

  // The database watchdog: a PostgreSQL that died (kill -9, OOM) is started again, which runs crash recovery.
  // Deployments with an operation in progress (a restore stops its database on purpose) are left alone.
  let watching = false;
  let shuttingDown = false;
  const watchdog = setInterval(() => {
    if (watching) return;
    watching = true;
    void (async () => {
      const busy = new Set(
        (await store.listOperations({ unfinished: true, limit: 1000 })).map((o) => o.deploymentKey),
      );
      for (const [key, cluster] of [...clusters]) {
        if (shuttingDown || busy.has(key) || !supervisedDatabases.has(key) || (await cluster.isRunning()))
          continue;
        log(`local runtime: PostgreSQL of ${key} is not running; starting it (crash recovery)`);
        await store.addEvent({
          deploymentKey: key,
          kind: 'database-restarted',
          message: 'PostgreSQL was not running and was started again (crash recovery)',
        });
        await cluster.ensure();
      }
    })()
      .catch((error: unknown) => log(`local runtime: database watchdog: ${String(error)}`))
      .finally(() => {
        watching = false;
      });
  }, 2000);

  return {
    name: 'local',
    handler,
    local,
    proxyUrl: () => `http://127.0.0.1:${proxy.port}`,
    isRunning(key) {
      return instancesOf(deployments.get(key)?.current).some((s) => s.state.kind !== 'precondition_failed');
    },
    status(key): DeploymentRuntimeStatus | undefined {
      const d = deployments.get(key);
      const cluster = clusters.get(key);
      const route = proxy.stats().routes.find((r) => d && r.hostnames.includes(d.hostnames[0] ?? ''));
      if (!d && !cluster) return undefined;
      return {
        key,
        instances: instancesOf(d?.current).map((s) => ({
          id: s.id,
          state: s.state.kind,
          ...(s.pid !== undefined ? { pid: s.pid } : {}),
          port: s.port,
          restarts: s.restarts,
          ...(s.release ? { release: s.release } : {}),
          ...(s.lastError ? { lastError: s.lastError } : {}),
        })),
        urls: (d?.hostnames ?? []).map((h) => `http://${h}:${proxy.port}`),
        ...(cluster
          ? { database: { port: cluster.options.port, databases: cluster.options.databases, running: true } }
          : {}),
        pendingRequests: route?.pending ?? 0,
      };
    },
    async *logs(key, query) {
      for await (const l of readLogs({
        logDir: dataDir.logs,
        deployment: slugOf(key),
        ...(query.since ? { since: query.since } : {}),
        ...(query.follow ? { follow: true } : {}),
        ...(query.signal ? { signal: query.signal } : {}),
      })) {
        yield { at: l.time.toISOString(), stream: l.stream, instance: l.instance, line: l.text };
      }
    },
    async grantDatabaseAccess(key, request) {
      const cluster = clusters.get(key);
      if (!cluster) {
        throw new PreconditionFailedError(
          `Deployment ${key} has no running PostgreSQL: deploy it first (\`msp status\`).`,
        );
      }
      const creds = await cluster.mintTemporaryCredentials({
        access: request.access,
        validFor: request.validForSeconds,
      });
      return {
        user: creds.user,
        password: creds.password,
        host: '127.0.0.1',
        port: cluster.options.port,
        databases: cluster.options.databases,
        ...(creds.validUntil ? { validUntil: creds.validUntil.toISOString() } : {}),
      };
    },
    metrics() {
      const pendingRequests: Record<string, number> = {};
      const stats = proxy.stats();
      for (const [key, d] of deployments) {
        const route = stats.routes.find((r) => r.hostnames.includes(d.hostnames[0] ?? ''));
        if (route) pendingRequests[key] = route.pending;
      }
      return { pendingRequests };
    },
    async stop() {
      shuttingDown = true;
      clearInterval(revoker);
      clearInterval(watchdog);
      for (const s of supervisor.status()) stopping.add(s.id);
      await supervisor.stopAll({ drainMs: 5000 });
      await proxy.close();
      await Promise.all([...clusters.values()].map((c) => c.stop('fast').catch(() => undefined)));
      clusters.clear();
    },
  };
}
