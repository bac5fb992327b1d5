import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  access,
  chmod,
  chown,
  lchown,
  mkdir,
  readFile,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, parse, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { InputError, PreconditionFailedError, UnavailableError } from '@msp/core';
import { isPortFree } from '../net.js';
import { postgresBinaries } from './binaries.js';
import { postgresOsUser, type OsUser } from './os-user.js';
import { scramMatches, scramVerifier } from './scram.js';

/** The three login roles of every cluster (shared/REFERENCE.md §1). */
export const CLUSTER_ROLES = {
  /** Superuser, for MSP only (the bootstrap superuser created by initdb). */
  admin: 'msp_admin',
  /** The workload's role: owns the spec's databases, full rights; handed to the service. */
  workload: 'app',
  /** Read-only: CONNECT on each database, USAGE + SELECT on what the workload creates. */
  operator: 'operator',
} as const;
export type ClusterRole = keyof typeof CLUSTER_ROLES;

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
  /** Caller-generated, caller-stored passwords (ASCII). The admin password is fixed at initdb. */
  passwords: { admin: string; workload: string; operator: string };
  /**
   * Whether the server fsyncs (default true). Only throwaway test clusters switch it off, to spare a
   * shared machine's disk; never for data anyone keeps.
   */
  fsync?: boolean;
}

export interface TemporaryCredentials {
  user: string;
  password: string;
  /** When login stops working; absent when minted without a limit. */
  validUntil?: Date;
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
   * acting as it). validFor in seconds, 0 = no limit. Call revokeExpiredCredentials() periodically.
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
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;
/** sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
const TEMP_ROLE_PATTERN = /^tmp_[0-9a-f]{16}$/;
/** Key for pg_advisory_lock while setting up roles, so two MSP processes do not race. */
const SETUP_LOCK_KEY = 7_305_001;

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

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
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
      await this.setUpRolesAndDatabases();
    });
  }

  configure(): Promise<void> {
    return this.serialized(async () => {
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
    return this.withAdmin(database, async (client) => (await client.query(sql, params)).rows as T[]);
  }

  async mintTemporaryCredentials(opts: {
    access: 'read' | 'write';
    validFor: number;
  }): Promise<TemporaryCredentials> {
    if (!Number.isFinite(opts.validFor) || opts.validFor < 0) {
      throw new InputError('validFor must be a number of seconds ≥ 0 (0 = no limit).');
    }
    const user = `tmp_${randomBytes(8).toString('hex')}`;
    const password = randomBytes(24).toString('base64url');
    const validUntil = opts.validFor > 0 ? new Date(Date.now() + opts.validFor * 1000) : undefined;
    const member = opts.access === 'write' ? CLUSTER_ROLES.workload : CLUSTER_ROLES.operator;
    await this.withAdmin('postgres', async (client) => {
      await client.query('BEGIN');
      try {
        await client.query(
          `CREATE ROLE ${ident(user)} WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION ` +
            `PASSWORD ${literal(scramVerifier(password))}` +
            (validUntil ? ` VALID UNTIL ${literal(validUntil.toISOString())}` : '') +
            ` IN ROLE ${ident(member)}`,
        );
        // Read: the operator's privileges (SELECT only) make it read-only, so a write fails with
        // "permission denied". default_transaction_read_only is deliberately not set: it would turn that
        // into "cannot execute INSERT in a read-only transaction" and add no protection on top.
        // Write: act as the workload role, so objects created through the credential belong to it.
        if (opts.access === 'write')
          await client.query(`ALTER ROLE ${ident(user)} SET role = ${literal(member)}`);
        await client.query(
          `COMMENT ON ROLE ${ident(user)} IS ${literal(
            `MSP temporary ${opts.access} credential` +
              (validUntil ? ` until ${validUntil.toISOString()}` : ''),
          )}`,
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    });
    return validUntil ? { user, password, validUntil } : { user, password };
  }

  async revokeExpiredCredentials(): Promise<number> {
    const expired = await this.query<{ rolname: string }>(
      `SELECT rolname FROM pg_roles
        WHERE rolname LIKE 'tmp\\_%' AND rolvaliduntil IS NOT NULL AND rolvaliduntil <= now()`,
    );
    let count = 0;
    for (const { rolname } of expired) {
      if (TEMP_ROLE_PATTERN.test(rolname) && (await this.revokeCredentials(rolname))) count += 1;
    }
    return count;
  }

  async revokeCredentials(user: string): Promise<boolean> {
    if (!TEMP_ROLE_PATTERN.test(user)) {
      throw new InputError(
        `"${user}" is not a temporary credential (tmp_<16 hex digits>); only those can be revoked.`,
      );
    }
    const found = await this.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
    if (found.length === 0) return false;
    await this.query(`ALTER ROLE ${ident(user)} NOLOGIN`);
    await this.query('SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = $1', [
      user,
    ]);
    const databases = await this.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate',
    );
    for (const { datname } of databases) {
      await this.withAdmin(datname, async (client) => {
        await client.query(`REASSIGN OWNED BY ${ident(user)} TO ${ident(CLUSTER_ROLES.workload)}`);
        await client.query(`DROP OWNED BY ${ident(user)}`);
      });
    }
    await this.query(`DROP ROLE IF EXISTS ${ident(user)}`);
    return true;
  }

  // ---- internals -------------------------------------------------------------------------------

  private async withAdmin<T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
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
  }

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
    const { bin } = postgresBinaries();
    const staging = join(this.options.dir, 'data.initdb');
    const pwfile = join(this.runDir, `.initdb-pw-${randomBytes(6).toString('hex')}`);
    await rm(staging, { recursive: true, force: true });
    await writeFile(pwfile, this.options.passwords.admin, { mode: 0o600 });
    try {
      if (user.switchUser) await chown(pwfile, user.uid, user.gid);
      const args = [
        '-D',
        staging,
        '-U',
        CLUSTER_ROLES.admin,
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--no-locale',
        '--data-checksums',
        '--auth-local=peer',
        '--auth-host=scram-sha-256',
        '--no-instructions',
      ];
      if (this.options.fsync === false) args.push('--no-sync');
      const result = await this.run(user, join(bin, 'initdb'), args);
      if (result.code !== 0) {
        throw new UnavailableError(
          `Cluster ${this.options.name}: initdb failed (exit ${result.code}): ${tail(result.stderr || result.stdout)}; ` +
            `fix the cause and run again (the partial directory ${staging} is removed on retry).`,
        );
      }
    } finally {
      await rm(pwfile, { force: true });
    }
    // The data directory appears whole or not at all: a crash during initdb leaves only the staging dir.
    await rename(staging, this.dataDir);
  }

  /** Writes msp.conf, pg_hba.conf and pg_ident.conf; says whether a running server must restart or reload. */
  private async writeConfig(user: OsUser): Promise<{ restart: boolean; reload: boolean }> {
    const o = this.options;
    const socketOk = join(this.runDir, `.s.PGSQL.${o.port}`).length <= MAX_SOCKET_PATH;
    const archiveScript = fileURLToPath(new URL('./archive-wal.js', import.meta.url));
    const archiveCommand = [process.execPath, archiveScript]
      .map((p) => shellQuote(p).replace(/%/g, '%%'))
      .concat(['%p', '%f', shellQuote(o.archiveDir).replace(/%/g, '%%')])
      .join(' ');
    const settings: [string, string | number][] = [
      ['listen_addresses', confString('127.0.0.1')],
      ['port', o.port],
      ['max_connections', o.maxConnections ?? 100],
      ['unix_socket_directories', confString(socketOk ? this.runDir : '')],
      ['unix_socket_permissions', '0700'],
      ['password_encryption', 'scram-sha-256'],
      ['shared_buffers', confString('32MB')],
      ['wal_level', 'replica'],
      ['archive_mode', 'on'],
      ['archive_timeout', o.archiveTimeoutSeconds ?? 60],
      ['archive_command', confString(archiveCommand)],
      ['max_wal_size', confString('512MB')],
      ['fsync', o.fsync === false ? 'off' : 'on'],
      ['logging_collector', 'off'],
      ['log_line_prefix', confString('%m [%p] %q%u@%d ')],
      ['log_timezone', confString('UTC')],
      ['timezone', confString('UTC')],
    ];
    const mspConf =
      `# Managed by MSP for ${o.name}: rewritten by every ensure(); edit the deployment instead.\n` +
      settings.map(([k, v]) => `${k} = ${v}`).join('\n') +
      '\n';
    const hba =
      '# Managed by MSP: TCP from this machine with SCRAM passwords only; the socket only for the OS user.\n' +
      `local all ${CLUSTER_ROLES.admin} peer map=msp\n` +
      'host all all 127.0.0.1/32 scram-sha-256\n';
    const ident = `# Managed by MSP\nmsp ${user.name} ${CLUSTER_ROLES.admin}\n`;

    const mspConfPath = join(this.dataDir, 'msp.conf');
    const previous = parseConf(await readFile(mspConfPath, 'utf8').catch(() => ''));
    const server = await writeIfChanged(mspConfPath, mspConf, user);
    // Only settings read at server start force a restart (e.g. a new archive_timeout is just reloaded).
    const needsRestart = settings.some(([k, v]) => RESTART_SETTINGS.has(k) && previous.get(k) !== String(v));
    const hbaChanged = await writeIfChanged(join(this.dataDir, 'pg_hba.conf'), hba, user);
    const identChanged = await writeIfChanged(join(this.dataDir, 'pg_ident.conf'), ident, user);
    const mainConf = join(this.dataDir, 'postgresql.conf');
    const main = await readFile(mainConf, 'utf8');
    const include = "include_if_exists = 'msp.conf'";
    let mainChanged = false;
    if (!main.includes(include)) {
      await writeFile(mainConf, `${main.trimEnd()}\n\n# MSP settings (last, so they win)\n${include}\n`);
      mainChanged = true;
    }
    return {
      restart: mainChanged || (server && needsRestart),
      reload: server || hbaChanged || identChanged,
    };
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

  private async setUpRolesAndDatabases(): Promise<void> {
    const { workload, operator, admin } = CLUSTER_ROLES;
    const passwords = this.options.passwords;
    await this.withAdmin('postgres', async (client) => {
      await client.query('SELECT pg_advisory_lock($1)', [SETUP_LOCK_KEY]);
      try {
        for (const role of [workload, operator]) {
          const found = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
          if (found.rowCount === 0) await client.query(`CREATE ROLE ${ident(role)}`);
          await client.query(
            `ALTER ROLE ${ident(role)} WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`,
          );
        }
        const stored = await client.query<{ rolname: string; rolpassword: string | null }>(
          'SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1)',
          [[admin, workload, operator]],
        );
        const want: Record<string, string> = {
          [admin]: passwords.admin,
          [workload]: passwords.workload,
          [operator]: passwords.operator,
        };
        for (const [role, password] of Object.entries(want)) {
          const current = stored.rows.find((r) => r.rolname === role)?.rolpassword ?? null;
          if (current === null || !scramMatches(password, current)) {
            await client.query(`ALTER ROLE ${ident(role)} WITH PASSWORD ${literal(scramVerifier(password))}`);
          }
        }
        for (const db of this.options.databases) {
          const row = await client.query<{ owner: string }>(
            'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1',
            [db],
          );
          if (row.rowCount === 0) {
            await client.query(`CREATE DATABASE ${ident(db)} OWNER ${ident(workload)}`);
          } else if (row.rows[0]?.owner !== workload) {
            await client.query(`ALTER DATABASE ${ident(db)} OWNER TO ${ident(workload)}`);
          }
          await client.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${ident(db)} FROM PUBLIC`);
          await client.query(`GRANT CONNECT ON DATABASE ${ident(db)} TO ${ident(operator)}`);
          await this.withAdmin(db, (dbClient) => grantOperatorRead(dbClient));
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [SETUP_LOCK_KEY]);
      }
    });
  }

  private pgCtl(user: OsUser, args: string[]): Promise<RunResult> {
    return this.run(user, join(postgresBinaries().bin, 'pg_ctl'), args);
  }

  /** Runs a PostgreSQL program as the PostgreSQL OS user, with a minimal environment (no secrets). */
  private run(user: OsUser, file: string, args: string[]): Promise<RunResult> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(file, args, {
        cwd: this.options.dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC' },
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(user.switchUser ? { uid: user.uid, gid: user.gid } : {}),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.once('error', reject);
      child.once('close', (code) => resolvePromise({ code, stdout, stderr }));
    });
  }
}

/**
 * USAGE + SELECT for the operator on everything the workload role owns in this database, now and
 * later (default privileges), in `public` and in any schema the workload creates.
 */
async function grantOperatorRead(client: pg.Client): Promise<void> {
  const { workload, operator } = CLUSTER_ROLES;
  const op = ident(operator);
  const app = ident(workload);
  const schemas = await client.query<{ nspname: string }>(
    `SELECT nspname FROM pg_namespace
      WHERE nspname = 'public' OR nspowner = (SELECT oid FROM pg_roles WHERE rolname = $1)`,
    [workload],
  );
  for (const { nspname } of schemas.rows) {
    await client.query(`GRANT USAGE ON SCHEMA ${ident(nspname)} TO ${op}`);
    await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${ident(nspname)} TO ${op}`);
    await client.query(`GRANT SELECT ON ALL SEQUENCES IN SCHEMA ${ident(nspname)} TO ${op}`);
  }
  await client.query(
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${app} IN SCHEMA public GRANT SELECT ON TABLES TO ${op}`,
  );
  await client.query(
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${app} IN SCHEMA public GRANT SELECT ON SEQUENCES TO ${op}`,
  );
  await client.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${app} GRANT SELECT ON TABLES TO ${op}`);
  await client.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${app} GRANT SELECT ON SEQUENCES TO ${op}`);
  await client.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${app} GRANT USAGE ON SCHEMAS TO ${op}`);
}

/** Settings of msp.conf that PostgreSQL reads only at server start. */
const RESTART_SETTINGS = new Set([
  'listen_addresses',
  'port',
  'max_connections',
  'unix_socket_directories',
  'unix_socket_permissions',
  'shared_buffers',
  'wal_level',
  'archive_mode',
]);

/** `key = value` lines of a file MSP wrote itself (no includes, one setting per line). */
function parseConf(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*([a-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) settings.set(match[1], match[2]);
  }
  return settings;
}

// ---- helpers -------------------------------------------------------------------------------------

/** A double-quoted SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A single-quoted SQL string literal (standard_conforming_strings is on). */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function confString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function tail(text: string, lines = 8): string {
  return text.trim().split('\n').slice(-lines).join(' | ');
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function readFrom(path: string, offset: number): Promise<string> {
  try {
    const content = await readFile(path);
    return content.subarray(Math.min(offset, content.length)).toString('utf8');
  } catch {
    return '';
  }
}

async function rotateLog(path: string): Promise<void> {
  if ((await fileSize(path)) > LOG_ROTATE_BYTES) await rename(path, `${path}.1`);
}

async function writeIfChanged(path: string, content: string, user: OsUser): Promise<boolean> {
  let current: string | undefined;
  try {
    current = await readFile(path, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === content) return false;
  await writeFile(path, content, { mode: 0o600 });
  if (user.switchUser) await chown(path, user.uid, user.gid);
  return true;
}

/** Creates missing ancestors of `path` as 0711: traversable by the PostgreSQL user, not listable. */
async function mkdirParents(path: string): Promise<void> {
  const missing: string[] = [];
  for (let p = dirname(path); p !== parse(p).root && !(await exists(p)); p = dirname(p)) missing.unshift(p);
  for (const p of missing) {
    await mkdir(p, { mode: 0o711 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    await chmod(p, 0o711);
  }
}

async function ensureOwnedDir(path: string, user: OsUser, mode: number): Promise<void> {
  await mkdir(path, { recursive: true, mode });
  const s = await stat(path);
  if (user.switchUser && (s.uid !== user.uid || s.gid !== user.gid)) await chown(path, user.uid, user.gid);
  if ((s.mode & 0o777) !== mode) await chmod(path, mode);
}

/** Every ancestor must let the PostgreSQL user through (x permission for the class it falls into). */
async function assertTraversable(path: string, user: OsUser): Promise<void> {
  for (let p = dirname(path); ; p = dirname(p)) {
    const s = await stat(p);
    const bit = s.uid === user.uid ? 0o100 : s.gid === user.gid ? 0o010 : 0o001;
    if ((s.mode & bit) === 0) {
      throw new PreconditionFailedError(
        `PostgreSQL runs as ${user.name} and cannot reach ${path}: ${p} is not traversable for it; ` +
          `run \`chmod o+x ${p}\` (or 0711) or choose a data directory elsewhere.`,
      );
    }
    if (p === parse(p).root) return;
  }
}

/** A data directory created as another user (e.g. before MSP ran as root) is handed to the PostgreSQL user. */
async function chownTreeIfNeeded(path: string, user: OsUser): Promise<void> {
  const s = await stat(path);
  if (s.uid === user.uid) return;
  const walk = async (p: string): Promise<void> => {
    await lchown(p, user.uid, user.gid);
    const st = await stat(p).catch(() => undefined);
    if (st?.isDirectory()) {
      for (const entry of await readdir(p)) await walk(join(p, entry));
    }
  };
  await walk(path);
}

/** True when `pid` is alive and is the postmaster of `dataDir` (not a recycled pid). */
async function isPostmasterOf(pid: number, dataDir: string): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    if (/^State:\s+Z/m.test(status)) return false; // a zombie is not running
  } catch {
    return false;
  }
  try {
    // The postmaster chdirs into its data directory.
    return resolve(await readlink(`/proc/${pid}/cwd`)) === (await realpath(dataDir));
  } catch {
    try {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
      return cmdline.includes('postgres');
    } catch {
      return false;
    }
  }
}
