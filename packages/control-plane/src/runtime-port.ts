/**
 * What the control plane needs from a runtime target (the local runtime today; Kubernetes and GCP later).
 * The API and the reconciler speak to this port only.
 */
import type { PostgresCluster } from '@msp/runtime-local';
import type { OperationHandler, StepContext } from './operations/engine.js';

export interface InstanceStatus {
  id: string;
  state: string;
  pid?: number;
  port?: number;
  restarts: number;
  release?: string;
  lastError?: string;
}

export interface DeploymentRuntimeStatus {
  key: string;
  instances: InstanceStatus[];
  urls: string[];
  database?: { port: number; databases: string[]; running: boolean };
  pendingRequests: number;
}

export interface TemporaryDbAccess {
  user: string;
  password: string;
  host: string;
  port: number;
  databases: string[];
  validUntil?: string;
}

export interface LogQuery {
  since?: Date;
  follow?: boolean;
  signal?: AbortSignal;
}

/** Where a local deployment keeps its data. */
export interface LocalPaths {
  /** The PostgreSQL cluster root (PGDATA is `<cluster>/data`). */
  cluster: string;
  /** The continuous WAL archive of the cluster. */
  archive: string;
  /** Root of the deployment's volumes: `<volumes>/<name>`. */
  volumes: string;
}

/** What feature modules (backups, restores, rollouts) may do to deployments on the local runtime. */
export interface LocalResources {
  paths(key: string): LocalPaths;
  /** The deployment's cluster object (not necessarily started); undefined when its spec has no PostgreSQL. */
  database(key: string): Promise<PostgresCluster | undefined>;
  /** Stops the deployment's instances (requests wait at the proxy), keeping its cluster running. */
  stopWorkload(key: string): Promise<void>;
  /** Starts (or keeps) healthy instances and points the route at them; returns a short detail. */
  startWorkload(key: string, ctx: StepContext): Promise<string>;
  /** Stops the deployment's PostgreSQL (fast shutdown); the next start or `database(key).ensure()` brings it back. */
  stopDatabase(key: string): Promise<void>;
}

export interface RuntimeTarget {
  readonly name: string;
  /** The handler of the runtime's own operations: deploy, stop, delete. */
  handler: OperationHandler;
  /** Present on the local runtime. */
  local?: LocalResources;
  status(key: string): DeploymentRuntimeStatus | undefined;
  isRunning(key: string): boolean;
  proxyUrl(): string | undefined;
  logs(
    key: string,
    query: LogQuery,
  ): AsyncIterable<{ at: string; stream: string; instance: string; line: string }>;
  grantDatabaseAccess(
    key: string,
    request: { access: 'read' | 'write'; validForSeconds: number },
  ): Promise<TemporaryDbAccess>;
  metrics(): { pendingRequests: Record<string, number> };
  stop(): Promise<void>;
}
