/**
 * What the parts of the local runtime share: the supervisor and the proxy, each deployment's generations
 * and route, its PostgreSQL cluster object and where its data lives.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeploymentSpec } from '@msp/core';
import type { createArtifactStore } from '@msp/runtime-local';
import {
  createPostgresCluster,
  findFreePort,
  type InstanceStatus,
  type OsUser,
  type PostgresCluster,
  type Proxy,
  type Supervisor,
} from '@msp/runtime-local';
import { slugOf, type DataDir } from '../../data-dir.js';
import { generateSecret } from '../../secrets.js';
import type { DeploymentRow, StateStore } from '../../state/store.js';
import {
  currentOf,
  noGenerations,
  servingOf,
  transition,
  type Generation,
  type GenerationEvent,
  type GenerationState,
} from './generations.js';

export interface LocalDeployment {
  generations: GenerationState;
  hostnames: string[];
}

/** Where a local deployment keeps its data. */
export interface LocalPaths {
  /** The PostgreSQL cluster root (PGDATA is `<cluster>/data`). */
  cluster: string;
  /** Root of the deployment's volumes: `<volumes>/<name>`. */
  volumes: string;
  /** The deployment's backup repository (base backups and volume snapshots). */
  backups: string;
  /** HOME of its instances: owner-only, owned by the user they run as. */
  home: string;
}

export interface LocalContext {
  store: StateStore;
  dataDir: DataDir;
  log: (line: string) => void;
  supervisor: Supervisor;
  proxy: Proxy;
  artifacts: ReturnType<typeof createArtifactStore>;
  /** This installation's node_modules, for bundles that have none of their own. */
  ownNodeModules: string | undefined;
  /**
   * The user instances run as: `msp-service` when MSP runs as root (instances never run as root, which owns
   * the admin token and every secret), else the current user (`switchUser` false).
   */
  serviceUser: OsUser;
  defaultSoakMs: number;
  deployments: Map<string, LocalDeployment>;
  clusters: Map<string, PostgresCluster>;
  /** Instances being stopped on purpose: their exits and state changes change nothing. */
  stopping: Set<string>;
  /**
   * Databases the watchdog keeps running: those a deploy started and whose workload runs. A stop or a restore
   * (which stops the database on purpose, or builds a clone's) takes a deployment out until it runs again.
   */
  supervisedDatabases: Set<string>;
}

export function pathsOf(dataDir: DataDir, key: string): LocalPaths {
  const slug = slugOf(key);
  return {
    cluster: join(dataDir.clusters, slug),
    volumes: join(dataDir.volumes, slug),
    backups: join(dataDir.root, 'backups', slug),
    home: join(dataDir.root, 'homes', slug),
  };
}

/** The secret (in the deployment's scope, so deleted with it) naming its cluster's incarnation. */
const INCARNATION = 'pg-cluster-id';
/** The first incarnation archives where MSP always did: `<archive>/<slug>`. */
const FIRST = 'first';

/** The WAL archive folder of one incarnation of the deployment's cluster. */
export function archiveDirOf(dataDir: DataDir, key: string, incarnation: string): string {
  const base = join(dataDir.archive, slugOf(key));
  return incarnation === FIRST ? base : `${base}.${incarnation}`;
}

/**
 * The WAL archive of the deployment's cluster as it is now. Each incarnation of the cluster (a deployment
 * deleted and created again gets a new one, with new WAL of the same names) archives into a folder of its
 * own, so it never meets the WAL of the one before, which stays for that one's backups. The incarnation is
 * chosen once, when the cluster is first needed, and stored with the deployment.
 */
export async function archiveOf(c: Pick<LocalContext, 'store' | 'dataDir'>, key: string): Promise<string> {
  const incarnation = await c.store.ensureSecret(key, INCARNATION, () => {
    const first = archiveDirOf(c.dataDir, key, FIRST);
    const clusterExists = existsSync(join(pathsOf(c.dataDir, key).cluster, 'data', 'PG_VERSION'));
    // A cluster from before incarnations, or the first one: the old place. Else a fresh name.
    const used = existsSync(first) && readdirSync(first).length > 0;
    return clusterExists || !used ? FIRST : `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  });
  return archiveDirOf(c.dataDir, key, incarnation);
}

/** Where the base backups of a deployment note the incarnation they were taken of. */
export const incarnationObject = (backupId: string) => `incarnation/${backupId}`;

/** Notes in the backup repository which incarnation's archive holds the WAL of base backup `backupId`. */
export async function noteBackupIncarnation(
  c: Pick<LocalContext, 'store' | 'dataDir'>,
  key: string,
  repository: { put(name: string, data: string): Promise<void> },
  backupId: string,
): Promise<void> {
  await archiveOf(c, key);
  const incarnation = (await c.store.getSecret(key, INCARNATION))!;
  await repository.put(incarnationObject(backupId), incarnation);
}

/** The archive holding the WAL of base backup `backupId` (backups from before incarnations: the first's). */
export async function archiveOfBackup(
  dataDir: DataDir,
  key: string,
  repository: { get(name: string): Promise<Buffer> },
  backupId: string,
): Promise<string> {
  const noted = await repository.get(incarnationObject(backupId)).catch(() => undefined);
  return archiveDirOf(dataDir, key, noted ? noted.toString('utf8') : FIRST);
}

/**
 * Removes the WAL archives of the deployment's earlier incarnations that no base backup in `repository`
 * reads any more (retention or `msp backup delete` took their last one): nothing can restore from them.
 * The current incarnation's archive always stays. Returns the folders removed.
 */
export async function pruneOldArchives(
  c: Pick<LocalContext, 'store' | 'dataDir'>,
  key: string,
  repository: { list(prefix: string): Promise<{ name: string }[]>; get(name: string): Promise<Buffer> },
): Promise<string[]> {
  const current = await c.store.getSecret(key, INCARNATION);
  if (current === undefined) return [];
  const needed = new Set([current]);
  for (const o of await repository.list('base/')) {
    const id = /^base\/([^/]+)\/manifest\.json$/.exec(o.name)?.[1];
    if (id === undefined) continue;
    const noted = await repository.get(incarnationObject(id)).catch(() => undefined);
    needed.add(noted ? noted.toString('utf8') : FIRST);
  }
  const slug = slugOf(key);
  const removed: string[] = [];
  for (const name of await readdir(c.dataDir.archive).catch(() => [] as string[])) {
    const incarnation =
      name === slug ? FIRST : name.startsWith(`${slug}.`) ? name.slice(slug.length + 1) : undefined;
    if (incarnation === undefined || needed.has(incarnation)) continue;
    await rm(join(c.dataDir.archive, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

export function deploymentOf(c: LocalContext, key: string): LocalDeployment {
  let d = c.deployments.get(key);
  if (!d) c.deployments.set(key, (d = { generations: noGenerations, hostnames: [] }));
  return d;
}

export const deploymentOfInstance = (id: string) => id.slice(0, id.lastIndexOf('#'));

export function instancesOf(c: LocalContext, g: Generation | undefined): InstanceStatus[] {
  return (g?.instanceIds ?? [])
    .map((id) => c.supervisor.get(id))
    .filter((s): s is InstanceStatus => s !== undefined);
}

export const hasHealthy = (c: LocalContext) => (g: Generation) =>
  instancesOf(c, g).some((s) => s.state.kind === 'healthy');

/** The current generation's instances (what `status` shows and `isRunning` asks about). */
export function currentInstances(c: LocalContext, key: string): InstanceStatus[] {
  const d = c.deployments.get(key);
  return instancesOf(c, d && currentOf(d.generations));
}

/** Points the proxy at the healthy instances of the serving generation (never at an unhealthy one). */
export function refreshRoute(c: LocalContext, key: string): void {
  const d = c.deployments.get(key);
  if (!d || d.hostnames.length === 0 || !currentOf(d.generations)) return;
  const serving = servingOf(d.generations, hasHealthy(c));
  const healthy = instancesOf(c, serving).filter((s) => s.state.kind === 'healthy');
  c.proxy.setRoute(
    d.hostnames,
    healthy.map((s) => ({ id: s.id, port: s.port })),
  );
}

const drainMsOf = { replaced: 10_000, failed: 5000, stopped: 10_000 } as const;

export async function stopGeneration(c: LocalContext, g: Generation, drainMs: number): Promise<void> {
  await Promise.all(
    g.instanceIds.map(async (id) => {
      c.stopping.add(id);
      try {
        await c.proxy.drain(id);
        await c.supervisor.stop(id, { drainMs });
      } finally {
        c.stopping.delete(id);
      }
    }),
  );
}

/**
 * Moves a deployment's generations by one event: the route follows the new state before any generation
 * the transition lets go is drained and stopped (`afterRoute` runs in between).
 */
export async function applyGenerations(
  c: LocalContext,
  key: string,
  event: GenerationEvent,
  afterRoute?: () => Promise<void>,
): Promise<Generation[]> {
  const d = deploymentOf(c, key);
  const next = transition(d.generations, event);
  d.generations = next.state;
  // A started generation takes traffic in the deploy's route step, not before.
  if (event.type !== 'started') refreshRoute(c, key);
  await afterRoute?.();
  for (const e of next.effects) await stopGeneration(c, e.generation, drainMsOf[e.why]);
  return next.effects.map((e) => e.generation);
}

/** The deployment's cluster object (created once, not necessarily started); undefined without PostgreSQL. */
export async function clusterFor(
  c: LocalContext,
  row: DeploymentRow,
  spec: DeploymentSpec,
): Promise<PostgresCluster | undefined> {
  const pgSpec = spec.environment.resources?.postgreSQL;
  if (!pgSpec) return undefined;
  let cluster = c.clusters.get(row.key);
  if (cluster) return cluster;
  let port = row.ports.postgres;
  if (!port) {
    port = await findFreePort();
    await c.store.setPorts(row.key, { ...row.ports, postgres: port });
  }
  const secret = (name: string) => c.store.ensureSecret(row.key, name, generateSecret);
  const paths = pathsOf(c.dataDir, row.key);
  cluster = createPostgresCluster({
    name: slugOf(row.key),
    dir: paths.cluster,
    port,
    databases: pgSpec.databases,
    maxConnections: pgSpec.maxConnections,
    archiveDir: await archiveOf(c, row.key),
    archiveTimeoutSeconds: spec.envConfig.backups?.archiveTimeoutSeconds ?? 60,
    passwords: {
      admin: await secret('pg-admin'),
      workload: await secret('pg-workload'),
      operator: await secret('pg-operator'),
    },
  });
  c.clusters.set(row.key, cluster);
  return cluster;
}

/** The cluster of deployment `key` by its stored row. */
export async function clusterOf(c: LocalContext, key: string): Promise<PostgresCluster | undefined> {
  const row = await c.store.requireDeployment(key);
  return clusterFor(c, row, row.spec as DeploymentSpec);
}
