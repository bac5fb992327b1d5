/**
 * Generations of instances on this machine: the environment an instance gets, starting a generation
 * behind its startup gate, and the soak that watches a new generation after the route moved to it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PreconditionFailedError, healthGateVerdict, type DeploymentSpec } from '@msp/core';
import {
  findFreePort,
  findNodeModules,
  probeHttp,
  probeSpecFor,
  type InstanceStatus,
} from '@msp/runtime-local';
import { slugOf } from '../../data-dir.js';
import type { StepContext } from '../../operations/engine.js';
import { generateSecret } from '../../secrets.js';
import type { DeploymentRow } from '../../state/store.js';
import {
  applyGenerations,
  clusterFor,
  deploymentOf,
  instancesOf,
  pathsOf,
  stopGeneration,
  type LocalContext,
} from './context.js';
import { currentOf, type Generation } from './generations.js';
import { ensureHomeDir, ensureVolumeDirs } from './volumes.js';

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

export async function instanceEnv(
  c: LocalContext,
  row: DeploymentRow,
  spec: DeploymentSpec,
  release: string,
): Promise<Record<string, string>> {
  const { store } = c;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: pathsOf(c.dataDir, row.key).home,
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
    const cluster = await clusterFor(c, row, spec);
    const cfg = cluster!.connectionConfig('workload', pgSpec.databases[0]!);
    env.PGHOST = String(cfg.host);
    env.PGPORT = String(cfg.port);
    env.PGUSER = String(cfg.user);
    env.PGPASSWORD = String(cfg.password);
    env.PGDATABASE = pgSpec.databases[0]!;
    for (const db of pgSpec.databases) env[`PGDATABASE_${envName(db)}`] = db;
  }
  for (const v of spec.environment.resources?.volumes ?? []) {
    env[`VOLUME_${envName(v.name)}`] = join(c.dataDir.volumes, slugOf(row.key), v.name);
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

/** Waits `ms`, or throws the signal's reason as soon as it aborts (a lost lease stops every wait). */
const pause = (ms: number, signal: AbortSignal) =>
  sleep(ms, undefined, { signal }).catch(() => signal.throwIfAborted());

async function startupGate(c: LocalContext, ids: readonly string[], limitMs: number, signal: AbortSignal) {
  const started = Date.now();
  for (;;) {
    signal.throwIfAborted();
    const all = ids.map((id) => c.supervisor.get(id)).filter((s): s is InstanceStatus => s !== undefined);
    const verdict = healthGateVerdict({
      phase: 'startup',
      instances: all.map((s) => gateInstance(s)),
      elapsedMs: Date.now() - started,
      limitMs,
    });
    if (verdict.kind !== 'wait') return verdict;
    await pause(100, signal);
  }
}

/**
 * The soak: after the switch, the new generation is probed on its own (more often than liveness) while
 * the previous one keeps running; a crash or failed probes end it with a failure.
 */
export async function soak(
  c: LocalContext,
  g: Generation,
  soakMs: number,
  secret: string,
  timeoutMs: number,
  signal: AbortSignal,
) {
  const started = Date.now();
  const failuresInARow = new Map<string, number>();
  for (;;) {
    signal.throwIfAborted();
    const all = instancesOf(c, g);
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
    await pause(250, signal);
  }
}

/** Starts a new generation beside the serving one unless the serving one already runs this spec healthy. */
export async function ensureInstances(
  c: LocalContext,
  row: DeploymentRow,
  spec: DeploymentSpec,
  ctx: StepContext,
): Promise<string> {
  const d = deploymentOf(c, row.key);
  d.hostnames = hostnamesOf(spec);
  const current = currentOf(d.generations);
  const running = instancesOf(c, current);
  const target = row.targetRelease;
  const digest = target?.artifact?.digest;
  if (
    current?.specHash === row.specHash &&
    current.digest === digest &&
    (!target || current.release === target.version) &&
    running.length > 0 &&
    running.every((s) => s.state.kind === 'healthy')
  ) {
    return `${running.length} instance(s) of ${current.release} already healthy`;
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
    const nodeModules = findNodeModules(workingTree) ?? c.ownNodeModules;
    codeDir = await c.artifacts.extract(digest, {
      ...(nodeModules ? { nodeModules } : {}),
      // Readable (never writable) by the user instances run as; nobody else reads a release's code.
      ...(c.serviceUser.switchUser ? { readableByGroup: c.serviceUser.gid } : {}),
    });
  } else if (!existsSync(codeDir)) {
    throw new PreconditionFailedError(
      `build.local.dir of ${spec.service.service.id} does not exist: ${codeDir}`,
    );
  }
  await ensureVolumeDirs(
    c,
    row.key,
    (spec.environment.resources?.volumes ?? []).map((v) => v.name),
  );
  await ensureHomeDir(c, row.key);
  const release = target?.version ?? releaseOf(spec, codeDir);
  const env = await instanceEnv(c, row, spec, release);
  const probes = spec.environment.healthProbes;
  const timeoutMs = (probes?.timeout ?? 3) * 1000;
  const probe = probeSpecFor({
    secret: env.DIAGNOSTICS_SECRET!,
    timeoutMs,
    startupIntervalMs: (probes?.startupInterval ?? probes?.timeout ?? 3) * 1000,
    livenessIntervalMs: (probes?.livenessInterval ?? 10 * (probes?.timeout ?? 3)) * 1000,
  });
  const command = local.command.map((part, i) => (i === 0 && part === 'node' ? process.execPath : part));
  const count = Math.max(1, spec.environment.instances?.scaling?.minCount ?? 1);
  const id = Date.now().toString(36);
  const instanceIds: string[] = [];
  for (let i = 1; i <= count; i++) {
    const instanceId = `${row.key}#${id}-${i}`;
    c.supervisor.start({
      id: instanceId,
      deployment: slugOf(row.key),
      release,
      command,
      cwd: codeDir,
      env,
      port: await findFreePort(),
      probe,
      // Never as root: the supervisor (root) owns the admin token and every secret.
      ...(c.serviceUser.switchUser ? { user: { uid: c.serviceUser.uid, gid: c.serviceUser.gid } } : {}),
    });
    instanceIds.push(instanceId);
  }
  await ctx.log(
    `started ${count} instance(s) of ${release} from ${digest ? `artifact ${digest} (verified)` : codeDir}`,
  );
  // The startup gate: every instance healthy before any traffic moves; a crash loop or a startup probe
  // timeout fails it, and traffic stays where it is.
  const starting: Generation = {
    id,
    specHash: row.specHash,
    release,
    ...(digest ? { digest } : {}),
    instanceIds,
  };
  let gate: Awaited<ReturnType<typeof startupGate>>;
  try {
    gate = await startupGate(c, instanceIds, probe.startupDeadlineMs + 2000, ctx.signal);
  } catch (error) {
    // The lease was lost: whoever holds it now starts its own; these never took traffic.
    await stopGeneration(c, starting, 0);
    throw error;
  }
  const settled = instancesOf(c, starting);
  if (gate.kind === 'fail') {
    const first = settled.find((s) => s.state.kind !== 'healthy') ?? settled[0];
    await stopGeneration(c, starting, 0);
    const tail = first?.stderrTail.slice(-5).join('\n    ') ?? '';
    const serving = currentOf(deploymentOf(c, row.key).generations);
    const stays = serving ? `; traffic stays on ${serving.release}` : '';
    throw new PreconditionFailedError(
      `${release} failed its health gate: ${gate.reason}${first?.lastError && !gate.reason.includes(first.lastError) ? ` (${first.lastError})` : ''}${stays}${tail ? `\n    ${tail}` : ''}`,
    );
  }
  const generation: Generation = {
    ...starting,
    restartsAtStart: Object.fromEntries(settled.map((s) => [s.id, s.restarts])),
  };
  await applyGenerations(c, row.key, { type: 'started', generation });
  const latency = Math.max(...settled.map((s) => s.startupLatencyMs ?? 0));
  return `${count} instance(s) of ${release} healthy (startup ${latency} ms)`;
}
