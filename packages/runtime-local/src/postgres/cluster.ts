/**
 * A cluster's lifecycle: initdb, start, stop, ensure (idempotent, crash recovery after a kill -9), and
 * admin sessions. Configuration rendering is in configuration.ts, roles and databases in roles.ts,
 * temporary credentials in credentials.ts.
 */
import { chown, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { InputError, PreconditionFailedError, UnavailableError } from '@msp/core';
import { isPortFree } from '../net.js';
import { checkPostgresRuns, postgresBinaries } from './binaries.js';
import { defaultArchiveScript, writeConfiguration } from './configuration.js';
import {
  mintTemporaryCredentials,
  revokeCredentials,
  revokeExpiredCredentials,
  type TemporaryCredentials,
} from './credentials.js';
import {
  assertTraversable,
  chownTreeIfNeeded,
  ensureOwnedDir,
  exists,
  fileSize,
  mkdirParents,
  readFrom,
  rotateLog,
} from './files.js';
import { postgresOsUser, type OsUser } from './os-user.js';
import { initdb, isPostmasterOf, runAsPostgres, tail, type RunResult } from './programs.js';
import { CLUSTER_ROLES, setUpRolesAndDatabases, type AdminSession, type ClusterRole } from './roles.js';

export { CLUSTER_ROLES, type ClusterRole } from './roles.js';
export {
  MAX_CREDENTIAL_VALIDITY_SECONDS,
  MIN_CREDENTIAL_VALIDITY_SECONDS,
  type TemporaryCredentials,
} from './credentials.js';
export { ident, literal } from './sql.js';

export interface ClusterOptions {
  /** Deployment key, e.g. "releaseregistry-dev" (used in messages). */
  name: string;
  /** Cluster root: `<dir>/data` (PGDATA) and `<dir>/run` (socket, server log). */
  dir: string;
  /** TCP port on 127.0.0.1. */
  port: number;
  /** Databases to create, owned by the workload role. */
  databases: string[];
  /** `max_connections` (default 100). */
  maxConnections?: number;
  /** WAL archive destination (per deployment). */
  archiveDir: string;
  /** `archive_timeout` in seconds: bounds the data-loss window (default 60). */
  archiveTimeoutSeconds?: number;
  /** How far the WAL receiver's replication slot may fall behind, in MB (default 1024). */
  maxSlotWalKeepMB?: number;
  /** Caller-generated, caller-stored passwords (ASCII). The admin password is fixed at initdb. */
  passwords: { admin: string; workload: string; operator: string };
  /**
   * Whether the server fsyncs (default true). Only throwaway test clusters switch it off, to spare a
   * shared machine's disk; never for data anyone keeps.
   */
  fsync?: boolean;
}

export interface PostgresCluster {
  readonly options: ClusterOptions;
  /** Idempotent: initdb if needed, configure, start if not running, roles + databases + grants, passwords. */
  ensure(): Promise<void>;
  /** Writes the configuration (msp.conf, pg_hba.conf) into an existing data dir without starting (restores). */
  configure(): Promise<void>;
  start(): Promise<void>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  isRunning(): Promise<boolean>;
  /** The postmaster's process id while running. */
  pid(): Promise<number | undefined>;
  /** Connection settings for one of the cluster's roles (host 127.0.0.1, TCP, SCRAM). */
  connectionConfig(role: ClusterRole, database: string): pg.ClientConfig;
  /**
   * A login role that expires: a member of the operator role (read) or of the workload role (write,
   * acting as it), always with VALID UNTIL. validFor in seconds, from MIN_CREDENTIAL_VALIDITY_SECONDS (1)
   * to MAX_CREDENTIAL_VALIDITY_SECONDS (one year); anything else (0, 0.4, NaN) is an InputError.
   * Call revokeExpiredCredentials() periodically.
   */
  mintTemporaryCredentials(opts: {
    access: 'read' | 'write';
    validFor: number;
  }): Promise<TemporaryCredentials>;
  /** Drops every temporary role past its VALID UNTIL, ending its sessions. Returns how many. */
  revokeExpiredCredentials(): Promise<number>;
  /** Drops one temporary role now (early revocation), ending its sessions. False when it did not exist. */
  revokeCredentials(user: string): Promise<boolean>;
  /** Runs one statement as the admin role (default database `postgres`). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], database?: string): Promise<T[]>;
}

const PG_CTL_TIMEOUT_SECONDS = 60;
const START_RETRY_MS = 20_000;

export function createPostgresCluster(options: ClusterOptions): PostgresCluster {
  validateOptions(options);
  return new LocalPostgresCluster({
    ...options,
    dir: resolve(options.dir),
    archiveDir: resolve(options.archiveDir),
  });
}

function validateOptions(o: ClusterOptions): void {
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) {
    throw new InputError(
      `Cluster ${o.name}: port ${o.port} is not a TCP port; give a number from 1 to 65535.`,
    );
  }
  const max = o.maxConnections ?? 100;
  if (!Number.isInteger(max) || max < 14 || max > 262143) {
    throw new InputError(`Cluster ${o.name}: maxConnections ${max} is out of range; give 14 to 262143.`);
  }
  const timeout = o.archiveTimeoutSeconds ?? 60;
  if (!Number.isInteger(timeout) || timeout < 1) {
    throw new InputError(`Cluster ${o.name}: archiveTimeoutSeconds must be a whole number of seconds ≥ 1.`);
  }
  for (const db of o.databases) {
    if (!/^[a-z_][a-z0-9_-]{0,62}$/.test(db) || ['postgres', 'template0', 'template1'].includes(db)) {
      throw new InputError(
        `Cluster ${o.name}: database name "${db}" is not allowed; use lower-case letters, digits, _ and -, ` +
          'not postgres/template0/template1.',
      );
    }
  }
  for (const [role, password] of Object.entries(o.passwords)) {
    if (typeof password !== 'string' || password.length < 8) {
      throw new InputError(`Cluster ${o.name}: the ${role} password must be at least 8 characters.`);
    }
  }
}

class LocalPostgresCluster implements PostgresCluster {
  readonly options: ClusterOptions;
  private readonly dataDir: string;
  private readonly runDir: string;
  private readonly logFile: string;
  /** start/stop/ensure run one at a time within a process; postmaster.pid guards across processes. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: ClusterOptions) {
    this.options = options;
    this.dataDir = join(options.dir, 'data');
    this.runDir = join(options.dir, 'run');
    this.logFile = join(this.runDir, 'postgres.log');
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  ensure(): Promise<void> {
    return this.serialized(async () => {
      await checkPostgresRuns(); // a broken install says so here, not inside initdb or pg_ctl
      const user = await postgresOsUser();
      await this.prepareDirectories(user);
      if (!(await exists(join(this.dataDir, 'PG_VERSION')))) await this.initdb(user);
      else if (user.switchUser) await chownTreeIfNeeded(this.dataDir, user);
      const configChanged = await this.writeConfig(user);
      if (await this.isRunning()) {
        if (configChanged.restart) {
          await this.stopNow('fast');
          await this.startNow(user);
        } else if (configChanged.reload) {
          await this.pgCtl(user, ['reload', '-D', this.dataDir, '-s']);
        }
      } else {
        await this.startNow(user);
      }
      await setUpRolesAndDatabases(this.admin, this.options);
    });
  }

  configure(): Promise<void> {
    return this.serialized(async () => {
      await checkPostgresRuns(); // a broken install says so here, not inside initdb or pg_ctl
      const user = await postgresOsUser();
      await this.prepareDirectories(user);
      await this.writeConfig(user);
    });
  }

  start(): Promise<void> {
    return this.serialized(async () => this.startNow(await postgresOsUser()));
  }

  stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    return this.serialized(() => this.stopNow(mode));
  }

  async isRunning(): Promise<boolean> {
    return (await this.pid()) !== undefined;
  }

  async pid(): Promise<number | undefined> {
    let content: string;
    try {
      content = await readFile(join(this.dataDir, 'postmaster.pid'), 'utf8');
    } catch {
      return undefined;
    }
    const pid = Number(content.split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    return (await isPostmasterOf(pid, this.dataDir)) ? pid : undefined;
  }

  connectionConfig(role: ClusterRole, database: string): pg.ClientConfig {
    const password = {
      admin: this.options.passwords.admin,
      workload: this.options.passwords.workload,
      operator: this.options.passwords.operator,
    }[role];
    return { host: '127.0.0.1', port: this.options.port, user: CLUSTER_ROLES[role], password, database };
  }

  async query<T = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    database = 'postgres',
  ): Promise<T[]> {
    return this.admin(database, async (client) => (await client.query(sql, params)).rows as T[]);
  }

  mintTemporaryCredentials(opts: {
    access: 'read' | 'write';
    validFor: number;
  }): Promise<TemporaryCredentials> {
    return mintTemporaryCredentials(this.admin, opts);
  }

  revokeExpiredCredentials(): Promise<number> {
    return revokeExpiredCredentials(this.admin);
  }

  revokeCredentials(user: string): Promise<boolean> {
    return revokeCredentials(this.admin, user);
  }

  // ---- internals -------------------------------------------------------------------------------

  /** An admin session (arrow: handed to roles and credentials). */
  private readonly admin: AdminSession = async (database, work) => {
    const client = new pg.Client({
      ...this.connectionConfig('admin', database),
      connectionTimeoutMillis: 10_000,
    });
    // An idle client whose server goes away emits 'error'; without a listener that would crash the process.
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      if (code === '28P01') {
        throw new PreconditionFailedError(
          `Cluster ${this.options.name}: MSP cannot sign in as ${CLUSTER_ROLES.admin}: the stored admin password ` +
            'does not match the cluster; restore the deployment secrets or reset the password through the local socket.',
          { cause },
        );
      }
      throw new UnavailableError(
        `Cluster ${this.options.name}: cannot connect to PostgreSQL on 127.0.0.1:${this.options.port}: ` +
          `${(cause as Error).message}; check that it runs (see ${this.logFile}).`,
        { cause },
      );
    }
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  private async prepareDirectories(user: OsUser): Promise<void> {
    const { dir, archiveDir } = this.options;
    await mkdirParents(dir);
    await ensureOwnedDir(dir, user, 0o700);
    await ensureOwnedDir(this.runDir, user, 0o700);
    // pg_ctl appends to the server log as the PostgreSQL user.
    if (user.switchUser && (await exists(this.logFile))) await chown(this.logFile, user.uid, user.gid);
    await mkdirParents(archiveDir);
    await ensureOwnedDir(archiveDir, user, 0o700);
    if (user.switchUser) {
      await assertTraversable(dir, user);
      await assertTraversable(archiveDir, user);
    }
  }

  private async initdb(user: OsUser): Promise<void> {
    await initdb({
      name: this.options.name,
      dir: this.options.dir,
      dataDir: this.dataDir,
      runDir: this.runDir,
      adminPassword: this.options.passwords.admin,
      ...(this.options.fsync === false ? { fsync: false } : {}),
      user,
    });
  }

  private writeConfig(user: OsUser): Promise<{ restart: boolean; reload: boolean }> {
    const o = this.options;
    return writeConfiguration(
      this.dataDir,
      {
        name: o.name,
        port: o.port,
        archiveDir: o.archiveDir,
        runDir: this.runDir,
        nodePath: process.execPath,
        archiveScript: defaultArchiveScript(),
        ...(o.maxConnections !== undefined ? { maxConnections: o.maxConnections } : {}),
        ...(o.archiveTimeoutSeconds !== undefined ? { archiveTimeoutSeconds: o.archiveTimeoutSeconds } : {}),
        ...(o.fsync !== undefined ? { fsync: o.fsync } : {}),
        ...(o.maxSlotWalKeepMB !== undefined ? { maxSlotWalKeepMB: o.maxSlotWalKeepMB } : {}),
      },
      user,
    );
  }

  private async startNow(user: OsUser): Promise<void> {
    if (await this.isRunning()) return;
    const { port, name } = this.options;
    const deadline = Date.now() + START_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      if (!(await isPortFree(port))) {
        throw new UnavailableError(
          `Cluster ${name}: port ${port} on 127.0.0.1 is already in use by another process; ` +
            `stop that process or give the deployment another port.`,
          { details: { port } },
        );
      }
      await rotateLog(this.logFile);
      const logStart = await fileSize(this.logFile);
      const result = await this.pgCtl(user, [
        'start',
        '-D',
        this.dataDir,
        '-l',
        this.logFile,
        '-w',
        '-t',
        String(PG_CTL_TIMEOUT_SECONDS),
        '-s',
      ]);
      if (result.code === 0) return;
      // Another ensure() (another process) may have started it meanwhile: that is success.
      if (await this.isRunning()) return;
      const log = await readFrom(this.logFile, logStart);
      if (/could not bind|Address already in use/i.test(log)) {
        throw new UnavailableError(
          `Cluster ${name}: port ${port} on 127.0.0.1 is already in use by another process; ` +
            `stop that process or give the deployment another port.`,
          { details: { port } },
        );
      }
      // After a kill -9 of the postmaster its children take a moment to notice and release shared memory.
      const transient =
        /pre-existing shared memory block|lock file .* already exists|is another postmaster/i.test(log);
      if (transient && Date.now() < deadline) {
        await delay(Math.min(200 * attempt, 1000));
        continue;
      }
      throw new UnavailableError(
        `Cluster ${name}: PostgreSQL did not start (pg_ctl exit ${result.code}): ${tail(log || result.stderr)}; ` +
          `see ${this.logFile}.`,
      );
    }
  }

  private async stopNow(mode: 'fast' | 'immediate'): Promise<void> {
    if (!(await this.isRunning())) return;
    const user = await postgresOsUser();
    const args = ['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', String(PG_CTL_TIMEOUT_SECONDS), '-s'];
    const result = await this.pgCtl(user, args);
    if (result.code === 0 || !(await this.isRunning())) return;
    if (mode === 'fast') {
      const again = await this.pgCtl(user, ['stop', '-D', this.dataDir, '-m', 'immediate', '-w', '-s']);
      if (again.code === 0 || !(await this.isRunning())) return;
    }
    throw new UnavailableError(
      `Cluster ${this.options.name}: PostgreSQL did not stop: ${tail(result.stderr)}; see ${this.logFile}.`,
    );
  }

  private pgCtl(user: OsUser, args: string[]): Promise<RunResult> {
    return runAsPostgres(user, this.options.dir, join(postgresBinaries().bin, 'pg_ctl'), args);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
