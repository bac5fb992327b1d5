/**
 * What the control plane needs from a runtime target (the local runtime today; Kubernetes and GCP later).
 * The API, the reconciler and the feature modules (backups, rollouts) speak to this port only: it names no
 * adapter type. A target declares the steps of its own operations and offers neutral capabilities —
 * workloads, databases, volumes — that features compose into theirs. The control plane picks a deployment's
 * target from its environment's `runtime` (see targets/registry.ts).
 */
import type { Operation, RestoreTarget } from '@msp/core';
import type { StepContext } from './operations/engine.js';

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
  /** Always set: no credential is minted without an expiry. */
  validUntil: string;
}

export interface LogQuery {
  since?: Date;
  follow?: boolean;
  signal?: AbortSignal;
}

/** The steps of a target's own operations, in order. Rollouts run the deploy steps in theirs. */
export interface TargetSteps {
  readonly deploy: readonly string[];
  readonly stop: readonly string[];
  readonly delete: readonly string[];
}

/** The deployment's running code: generations of instances behind its route. */
export interface Workloads {
  /** Drains and stops every instance; requests wait at the route (then fail) until `start`. */
  stop(key: string): Promise<void>;
  /**
   * Starts a generation of the deployment's release unless a healthy one runs it, and points the route at
   * it (after a restore). Returns a short detail.
   */
  start(key: string, ctx: StepContext): Promise<string>;
  /**
   * Optional: runs a one-off task (an upgrade's migrator) to its end with the deployment's environment and
   * the code of `task.release` (the deployment's own release when absent); the database is started first.
   */
  runTask?(key: string, task: TaskRequest, ctx: StepContext): Promise<TaskResult>;
}

/** A one-off task: its command (run in the release's code folder) and extra environment. */
export interface TaskRequest {
  command: readonly string[];
  env?: Readonly<Record<string, string>>;
  release?: { version: string; artifact?: { digest: string; url?: string } } | null;
  /** Killed after this long (default 10 minutes). */
  timeoutMs?: number;
}

export interface TaskResult {
  /** null when it was killed (timeout). */
  exitCode: number | null;
  /** The last lines of its stdout and stderr. */
  output: string;
  durationMs: number;
}

/** A problem a verification found in one file of a backup. */
export interface BackupProblem {
  file: string;
  problem: string;
}

/** A base backup the target took and stored. */
export interface BaseBackupTaken {
  finishedAt: string;
  rawBytes: number;
  storedBytes: number;
  timeline: number;
  startLsn: string;
  stopLsn: string;
  startWal: string;
  stopWal: string;
  files: number;
  /** The target's own description of the backup, stored with it as is. */
  manifest: unknown;
  /** What the verification after taking it found (empty: every checksum matches). */
  problems: BackupProblem[];
  /** An incremental backup: the base backups it reads from (its chain). */
  references?: string[];
}

/** One segment of the continuous WAL archive. */
export interface ArchivedSegment {
  name: string;
  walEndTime: string;
  archivedAt: string;
}

/** The WAL archiver of a running database (pg_stat_archiver). */
export interface ArchiverState {
  archivedCount: number;
  lastArchivedWal: string | null;
  lastArchivedTime: string | null;
  failedCount: number;
  lastFailedWal: string | null;
  lastFailedTime: string | null;
  /** Segments waiting for the archiver: a growing number means archiving is stuck. */
  pending: number;
}

/**
 * The deployment's PostgreSQL, its base backups in the target's backup store and its continuous WAL archive.
 * Every method refuses (PreconditionFailedError) a deployment without PostgreSQL unless said otherwise.
 */
export interface Databases {
  /** The deployment's database names; undefined when its spec has no PostgreSQL. */
  describe(key: string): Promise<{ databases: string[] } | undefined>;
  isRunning(key: string): Promise<boolean>;
  /** Starts it unless it runs (crash recovery included). */
  ensure(key: string): Promise<void>;
  /** Stops it (fast shutdown); nothing starts it again until `ensure` or the workload's next start. */
  stop(key: string, mode?: 'fast' | 'immediate'): Promise<void>;
  /** Answers when every database of the deployment answers a query. */
  check(key: string): Promise<void>;
  /**
   * Takes a base backup stored under `id` and verifies it with the WAL it needs. `fast` asks for an
   * immediate checkpoint (on-demand and pre-upgrade backups) instead of a spread one.
   */
  baseBackup(
    key: string,
    /** `incrementalOf`: a good base backup of this deployment to store only the changes against. */
    request: { id: string; label: string; fast: boolean; incrementalOf?: string },
  ): Promise<BaseBackupTaken>;
  /** Checks a stored base backup (and the WAL it needs to be consistent) against its checksums. */
  verifyBaseBackup(
    key: string,
    id: string,
    wal?: { startWal: string; stopWal: string },
  ): Promise<{ problems: BackupProblem[]; files: number; walSegments: number }>;
  deleteBaseBackup(key: string, id: string): Promise<void>;
  /** The archived WAL segments (empty when nothing was archived or the deployment has no PostgreSQL). */
  walArchive(key: string): Promise<ArchivedSegment[]>;
  /** The archiver of the running database; null when it does not run or has no PostgreSQL. */
  archiver(key: string): Promise<ArchiverState | null>;
  deleteWal(key: string, segments: readonly string[]): Promise<void>;
  /**
   * Restores base backup `backupId` of `from` into `key`'s database (stopped first). In place (`key` =
   * `from`) the current data is set aside until `discardPrevious` or `restorePrevious`.
   */
  restoreBaseBackup(
    key: string,
    /** `delta` (in place): rewrite only what differs from the backup; nothing is set aside then. */
    request: { from: string; backupId: string; inPlace: boolean; delta?: boolean },
  ): Promise<string>;
  /**
   * Replays `from`'s WAL archive up to `target`, promotes and starts the database. Idempotent. `backupId`
   * (the base backup restored) picks the archive its WAL is in when `from` was re-created since.
   */
  recover(
    key: string,
    request: { from: string; target: RestoreTarget; fromWal?: string; backupId?: string },
    log: (message: string) => Promise<void>,
  ): Promise<string>;
  /** After a failed in-place restore: puts the data set aside back and starts it; false when there was none. */
  restorePrevious(key: string): Promise<boolean>;
  /** After a successful in-place restore: removes the data set aside. */
  discardPrevious(key: string): Promise<void>;
  /**
   * The restore drill: restores base backup `backupId` into a scratch copy, recovers to the end of the archive,
   * reads every table, removes the copy. Returns the databases found and every table's row count.
   */
  drill(
    key: string,
    request: { backupId: string; startWal?: string },
    log: (message: string) => Promise<void>,
  ): Promise<{ databases: string[]; rowCounts: Record<string, number> }>;
}

/** The deployment's volumes and their snapshots in the target's backup store. */
export interface Volumes {
  snapshot(
    key: string,
    request: { volume: string; id: string },
  ): Promise<{ takenAt: string; storedBytes: number; manifest: unknown; problems: BackupProblem[] }>;
  verifySnapshot(key: string, id: string): Promise<BackupProblem[]>;
  deleteSnapshot(key: string, id: string): Promise<void>;
  /** Restores snapshot `id` of `from`'s volume into `key`'s volume of the same name. */
  restore(key: string, request: { from: string; volume: string; id: string }): Promise<void>;
}

/** What a target measures about one instance of a deployment (alerting's signals). */
export interface InstanceSignals {
  id: string;
  state: string;
  /** CPU time the process used since it started (seconds); absent when the target cannot tell. */
  cpuSeconds?: number;
  /** Resident memory (bytes). */
  memoryBytes?: number;
  /** From start to healthy (seconds), once it was healthy. */
  startupSeconds?: number;
}

/** What a target measures about a deployment's database. */
export interface DatabaseSignals {
  up: boolean;
  connections?: number;
  maxConnections?: number;
  /** CPU time of the server's processes (seconds, cumulative) and its cores. */
  cpuSeconds?: number;
  cores?: number;
  memoryBytes?: number;
  memoryLimitBytes?: number;
  /** Used and total bytes of the file system holding its data directory; the data directory's own size. */
  diskUsedBytes?: number;
  diskTotalBytes?: number;
  dataDirBytes?: number;
  /** The longest time a query of it has waited for a lock right now (seconds; 0 when none waits). */
  lockWaitSeconds?: number;
  /** archive_timeout, the last archived WAL's time and the segments waiting for the archiver. */
  archiveTimeoutSeconds?: number;
  lastArchivedAt?: string | null;
  walPending?: number;
  /** Bytes of WAL the streaming receiver's replication slot holds back (behind the current position). */
  walSlotLagBytes?: number;
}

/** One deployment's signals at one moment (RuntimeTarget.signals). */
export interface DeploymentSignals {
  instances: InstanceSignals[];
  pendingRequests: number;
  /** Responses by status class at the target's front door, counted since the target started. */
  responses?: Readonly<Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>>;
  /** The same responses by exact status code (`"429": 3`), for ratios that name a code or exclude some. */
  responseCodes?: Readonly<Record<string, number>>;
  /** Sum of the backends' response times (to the response head) over those responses, in ms. */
  responseLatencyMsTotal?: number;
  database?: DatabaseSignals;
}

export interface RuntimeTarget {
  /** The runtime it runs (an environment's `runtime`: local, kubernetes, gcp). */
  readonly name: string;
  /** The steps of its deploy, stop and delete operations. */
  readonly steps: TargetSteps;
  /** Runs one of its steps for `ctx.operation` (kind deploy, stop, delete, or a rollout running the deploy steps). */
  runStep(step: string, ctx: StepContext): Promise<string | void>;
  /** Called once when one of its deploy, stop or delete operations ends. */
  onFinished?(op: Operation): Promise<void>;
  readonly workloads: Workloads;
  readonly databases: Databases;
  readonly volumes: Volumes;
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
  /**
   * Drops one credential `grantDatabaseAccess` minted, ending its open sessions (an access grant revoked
   * or run out). False when it was gone already. Optional: without it, credentials end at their expiry.
   */
  revokeDatabaseAccess?(key: string, user: string): Promise<boolean>;
  metrics(): { pendingRequests: Record<string, number> };
  /** Alerting's signals of one deployment; undefined when the target runs nothing of it. Optional. */
  signals?(key: string): Promise<DeploymentSignals | undefined>;
  stop(): Promise<void>;
}
