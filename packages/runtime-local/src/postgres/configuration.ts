/**
 * What MSP writes into a cluster's data directory: `msp.conf` (included last by postgresql.conf),
 * `pg_hba.conf` and `pg_ident.conf`. Rendering is pure; `writeConfiguration` writes the files and says
 * whether a running server must restart or only reload.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { currentPlatform } from '../platform.js';
import { writeIfChanged } from './files.js';
import type { OsUser } from './os-user.js';
import { CLUSTER_ROLES } from './roles.js';

/** Settings of msp.conf that PostgreSQL reads only at server start. */
export const RESTART_SETTINGS: ReadonlySet<string> = new Set([
  'listen_addresses',
  'port',
  'max_connections',
  'unix_socket_directories',
  'unix_socket_permissions',
  'shared_buffers',
  'wal_level',
  'archive_mode',
]);

/** What the server configuration depends on. */
export interface ServerConfigInput {
  /** Deployment key (in the file's header). */
  name: string;
  port: number;
  maxConnections?: number;
  archiveDir: string;
  archiveTimeoutSeconds?: number;
  /** How far the WAL receiver's replication slot may fall behind, in MB (default 1024). */
  maxSlotWalKeepMB?: number;
  fsync?: boolean;
  /** `<dir>/run`: the socket directory. */
  runDir: string;
  /** The archive_command's program: `node <archiveScript> %p %f <archiveDir>`. */
  nodePath: string;
  archiveScript: string;
}

export type Setting = readonly [key: string, value: string | number];

/** The archive-wal.js next to this module (dist/postgres/archive-wal.js). */
export function defaultArchiveScript(): string {
  return fileURLToPath(new URL('./archive-wal.js', import.meta.url));
}

/** The settings of msp.conf, in file order. */
export function serverSettings(o: ServerConfigInput): Setting[] {
  const socketOk = join(o.runDir, `.s.PGSQL.${o.port}`).length <= currentPlatform().maxSocketPath;
  const archiveCommand = [o.nodePath, o.archiveScript]
    .map((p) => shellQuote(p).replace(/%/g, '%%'))
    .concat(['%p', '%f', shellQuote(o.archiveDir).replace(/%/g, '%%')])
    .join(' ');
  return [
    ['listen_addresses', confString('127.0.0.1')],
    ['port', o.port],
    ['max_connections', o.maxConnections ?? 100],
    ['unix_socket_directories', confString(socketOk ? o.runDir : '')],
    ['unix_socket_permissions', '0700'],
    ['password_encryption', 'scram-sha-256'],
    ['shared_buffers', confString('32MB')],
    ['wal_level', 'replica'],
    ['archive_mode', 'on'],
    ['archive_timeout', o.archiveTimeoutSeconds ?? 60],
    ['archive_command', confString(archiveCommand)],
    ['max_wal_size', confString('512MB')],
    // The WAL receiver's slot may hold back at most this much WAL; past it PostgreSQL invalidates the slot
    // (the control plane then drops it with an event) instead of filling the disk.
    ['max_slot_wal_keep_size', confString(`${o.maxSlotWalKeepMB ?? 1024}MB`)],
    ['fsync', o.fsync === false ? 'off' : 'on'],
    ['logging_collector', 'off'],
    ['log_line_prefix', confString('%m [%p] %q%u@%d ')],
    ['log_timezone', confString('UTC')],
    ['timezone', confString('UTC')],
  ];
}

export function renderServerConf(name: string, settings: readonly Setting[]): string {
  return (
    `# Managed by MSP for ${name}: rewritten by every ensure(); edit the deployment instead.\n` +
    settings.map(([k, v]) => `${k} = ${v}`).join('\n') +
    '\n'
  );
}

/** TCP from this machine with SCRAM only; the socket only for the OS user, as the admin role. */
export function renderHba(): string {
  return (
    '# Managed by MSP: TCP from this machine with SCRAM passwords only; the socket only for the OS user.\n' +
    `local all ${CLUSTER_ROLES.admin} peer map=msp\n` +
    'host all all 127.0.0.1/32 scram-sha-256\n' +
    // The control plane's WAL receiver streams WAL as the admin role (RPO under a second).
    `host replication ${CLUSTER_ROLES.admin} 127.0.0.1/32 scram-sha-256\n`
  );
}

/** Maps the PostgreSQL OS user (peer authentication on the socket) to the admin role. */
export function renderIdent(osUserName: string): string {
  return `# Managed by MSP\nmsp ${osUserName} ${CLUSTER_ROLES.admin}\n`;
}

/** `key = value` lines of a file MSP wrote itself (no includes, one setting per line). */
export function parseConf(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*([a-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) settings.set(match[1], match[2]);
  }
  return settings;
}

/** Whether going from `previous` (parsed msp.conf) to `next` changes a setting read only at start. */
export function needsRestart(previous: ReadonlyMap<string, string>, next: readonly Setting[]): boolean {
  return next.some(([k, v]) => RESTART_SETTINGS.has(k) && previous.get(k) !== String(v));
}

export const MSP_INCLUDE = "include_if_exists = 'msp.conf'";

/** postgresql.conf with MSP's include appended (last, so its settings win); unchanged when present. */
export function withMspInclude(postgresqlConf: string): string {
  if (postgresqlConf.includes(MSP_INCLUDE)) return postgresqlConf;
  return `${postgresqlConf.trimEnd()}\n\n# MSP settings (last, so they win)\n${MSP_INCLUDE}\n`;
}

/** A postgresql.conf string value. */
export function confString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** A POSIX shell single-quoted word. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Writes msp.conf, pg_hba.conf and pg_ident.conf; says whether a running server must restart or reload. */
export async function writeConfiguration(
  dataDir: string,
  input: ServerConfigInput,
  user: OsUser,
): Promise<{ restart: boolean; reload: boolean }> {
  const settings = serverSettings(input);
  const mspConfPath = join(dataDir, 'msp.conf');
  const previous = parseConf(await readFile(mspConfPath, 'utf8').catch(() => ''));
  const server = await writeIfChanged(mspConfPath, renderServerConf(input.name, settings), user);
  const hbaChanged = await writeIfChanged(join(dataDir, 'pg_hba.conf'), renderHba(), user);
  const identChanged = await writeIfChanged(join(dataDir, 'pg_ident.conf'), renderIdent(user.name), user);
  const mainConf = join(dataDir, 'postgresql.conf');
  const main = await readFile(mainConf, 'utf8');
  const updated = withMspInclude(main);
  if (updated !== main) await writeFile(mainConf, updated);
  return {
    // Only settings read at server start force a restart (e.g. a new archive_timeout is just reloaded).
    restart: updated !== main || (server && needsRestart(previous, settings)),
    reload: server || hbaChanged || identChanged,
  };
}
