/**
 * Point-in-time recovery of a restored data directory: the recovery settings (restore_command fetching
 * verified WAL from the archive, the target, promote at the target), waiting for recovery to end, and
 * removing the settings afterwards. Plus the WAL archive as the repository holds it.
 */
import { appendFile, chown, mkdir, readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RestoreTarget } from '@msp/core';
import { UnavailableError } from '@msp/core';
import { readArchivedWal, startPrefetch } from './fetch-wal.js';

export interface ArchivedWal {
  name: string;
  size: number;
  storedSize: number;
  sha256: string;
  walEndTime: string;
  archivedAt: string;
}

const quote = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
const shellQuote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
const MARK = '# MSP restore: removed when recovery has finished';

/** Where fetch-wal's prefetcher spools verified segments during a recovery (removed afterwards). */
export const walSpoolDir = (dataDir: string) => join(dataDir, 'msp_wal_spool');

/**
 * The restore_command line for an archive directory. With a spool dir, a segment the prefetcher already
 * verified and decompressed is moved into place by the shell; a segment the archive holds while the
 * prefetcher runs is waited for (up to 5 s, polled every 10 ms) rather than fetched a second time beside
 * it; a file the archive does not hold (the end of the archive, a timeline history PostgreSQL probes for)
 * is answered "not there" by the shell at once; anything else runs fetch-wal, which verifies it (and
 * starts the prefetcher).
 */
export function restoreCommand(archiveDir: string, spoolDir?: string): string {
  const script = fileURLToPath(new URL('./fetch-wal.js', import.meta.url));
  const q = (v: string) => shellQuote(v).replace(/%/g, '%%');
  const fetch = [
    'exec',
    q(process.execPath),
    q(script),
    '%f',
    '%p',
    q(archiveDir),
    ...(spoolDir ? [q(spoolDir)] : []),
  ].join(' ');
  if (!spoolDir) return fetch.slice('exec '.length);
  return (
    `s=${q(spoolDir)}; f="$s/%f"; a=${q(archiveDir)}/%f.gz; i=0; ` +
    `while :; do if [ -f "$f" ] && mv -f "$f" "%p"; then exit 0; fi; ` +
    `[ -f "$a" ] || [ -f ${q(archiveDir)}/%f.partial ] || exit 1; ` +
    `[ $i -lt 500 ] && [ -f "$s/.prefetch.lock" ] || break; ` +
    `i=$((i+1)); sleep 0.01; done; ${fetch}`
  );
}

/** Removes the recovery's WAL spool (call once the server has promoted). */
export async function removeWalSpool(dataDir: string): Promise<void> {
  await rm(walSpoolDir(dataDir), { recursive: true, force: true });
}

/** Writes recovery.signal and the recovery settings (into postgresql.auto.conf, as pg_basebackup -R does). */
export async function writeRecoveryConfig(options: {
  dataDir: string;
  archiveDir: string;
  target: RestoreTarget;
  owner?: { uid: number; gid: number };
  /**
   * The first WAL segment recovery needs (the base backup's `startWal`): the prefetcher starts on it at
   * once, so segments are verified and decompressed while PostgreSQL starts up.
   */
  fromWal?: string;
}): Promise<void> {
  const { dataDir, target } = options;
  const spool = walSpoolDir(dataDir);
  await mkdir(spool, { recursive: true, mode: 0o700 });
  if (options.owner) await chown(spool, options.owner.uid, options.owner.gid);
  if (options.fromWal) {
    await startPrefetch(options.archiveDir, spool, options.fromWal, {
      from: true,
      ...(options.owner && process.getuid?.() === 0 ? { user: options.owner } : {}),
    });
  }
  const lines = [
    MARK,
    `restore_command = ${quote(restoreCommand(options.archiveDir, spool))}`,
    `recovery_target_timeline = 'latest'`,
    // No restartpoints while replaying (each one writes out the buffers replay dirtied, and the
    // end-of-recovery checkpoint then waits for the one in progress): the end-of-recovery checkpoint
    // writes them once. Bounded, since replayed segments stay in pg_wal until a restartpoint.
    ...Object.entries(await recoveryCheckpointSettings(dataDir)).map(([k, v]) => `${k} = ${quote(v)}`),
  ];
  const auto = join(dataDir, 'postgresql.auto.conf');
  // What the restored database had set itself, given back by clearRecoverySql (kept until it has run):
  // above MSP's block, should a resumed restore write the settings a second time.
  const text = await readFile(auto, 'utf8').catch(() => '');
  const own = text.includes(MARK) ? text.slice(0, text.indexOf(MARK)) : text;
  await writeFile(
    ownSettingsFile(dataDir),
    JSON.stringify(Object.fromEntries(RECOVERY_ONLY.map((n) => [n, autoConfValue(own, n) ?? null]))),
    { mode: 0o600 },
  );
  if (target.kind === 'time') {
    // PostgreSQL's own timestamp form: its check of recovery_target_time refuses the ISO "T…Z" spelling.
    const at = new Date(target.time).toISOString().replace('T', ' ').replace('Z', '+00');
    lines.push(`recovery_target_time = ${quote(at)}`);
    lines.push(`recovery_target_action = 'promote'`);
  } else if (target.kind === 'backup') {
    lines.push(`recovery_target = 'immediate'`, `recovery_target_action = 'promote'`);
  }
  await appendFile(auto, `\n${lines.join('\n')}\n`, { mode: 0o600 });
  await writeFile(join(dataDir, 'recovery.signal'), '', { mode: 0o600 });
  if (options.owner) {
    await chown(auto, options.owner.uid, options.owner.gid);
    await chown(join(dataDir, 'recovery.signal'), options.owner.uid, options.owner.gid);
  }
}

/** Settings that hold only while a restore recovers (see writeRecoveryConfig); the values are MSP's. */
const RECOVERY_ONLY = ['max_wal_size', 'checkpoint_timeout'] as const;
/** The restored database's own values of those (in the spool, which goes once recovery is cleared). */
const ownSettingsFile = (dataDir: string) => join(walSpoolDir(dataDir), 'own-settings.json');

/**
 * max_wal_size for the length of a recovery: a quarter of the free disk space, between 1 and 16 GiB (a
 * replay of up to about half of it needs no restartpoint); checkpoint_timeout at its maximum.
 */
async function recoveryCheckpointSettings(dataDir: string): Promise<Record<string, string>> {
  const free = await statfs(dataDir).then(
    (s) => s.bavail * s.bsize,
    () => 0,
  );
  const mb = Math.min(16 * 1024, Math.max(1024, Math.floor(free / 4 / 2 ** 20)));
  return { max_wal_size: `${mb}MB`, checkpoint_timeout: '1d' };
}

/** The last value of `name` in postgresql.auto.conf text, as written there (unquoted); undefined if none. */
function autoConfValue(text: string, name: string): string | undefined {
  let value: string | undefined;
  for (const line of text.split('\n')) {
    const m =
      /^\s*([A-Za-z_.]+)\s*=\s*'((?:[^']|'')*)'\s*(?:#.*)?$/.exec(line) ??
      /^\s*([A-Za-z_.]+)\s*=\s*([^\s#']+)\s*(?:#.*)?$/.exec(line);
    if (m && m[1]!.toLowerCase() === name) value = m[2]!.replace(/''/g, "'");
  }
  return value;
}

/**
 * SQL that removes the recovery settings once the server has promoted (ALTER SYSTEM rewrites the file).
 * A recovery-only setting the restored postgresql.auto.conf had of its own (an ALTER SYSTEM of the
 * database's owner) gets that value back rather than being reset. Safe to run again (a resumed step):
 * the values come from a file that goes with the spool (removeWalSpool), after this has run.
 */
export async function clearRecoverySql(dataDir: string): Promise<string[]> {
  const own = (await readFile(ownSettingsFile(dataDir), 'utf8')
    .then((t) => JSON.parse(t) as Record<string, unknown>)
    .catch(() => ({}))) as Record<string, unknown>;
  const restore = RECOVERY_ONLY.map((name) => {
    const value = own[name];
    return typeof value === 'string'
      ? `ALTER SYSTEM SET ${name} = ${quote(value)}`
      : `ALTER SYSTEM RESET ${name}`;
  });
  return [
    'ALTER SYSTEM RESET restore_command',
    'ALTER SYSTEM RESET recovery_target_time',
    'ALTER SYSTEM RESET recovery_target',
    'ALTER SYSTEM RESET recovery_target_action',
    'ALTER SYSTEM RESET recovery_target_timeline',
    ...restore,
    'SELECT pg_reload_conf()',
  ];
}

/**
 * Polls until the server has left recovery (promoted). Fails when the server stops meanwhile (a
 * recovery error: target not reached, a corrupt segment), quoting the server log.
 */
export async function waitForRecovery(options: {
  inRecovery: () => Promise<boolean>;
  isRunning: () => Promise<boolean>;
  logFile?: string;
  timeoutMs?: number;
}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  for (;;) {
    if (!(await options.isRunning())) {
      const log = options.logFile ? await readFile(options.logFile, 'utf8').catch(() => '') : '';
      const lines = log
        .split('\n')
        .filter((l) => /FATAL|PANIC|fetch-wal|recovery/.test(l))
        .slice(-6)
        .join(' | ');
      throw new UnavailableError(`PostgreSQL stopped during recovery: ${lines || 'see its log'}`);
    }
    try {
      if (!(await options.inRecovery())) return;
    } catch {
      // not accepting connections yet
    }
    if (Date.now() > deadline)
      throw new UnavailableError('Recovery did not finish in time; see the server log.');
    // Polled often: a restore's downtime ends the moment the server has promoted.
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every complete archived WAL file (its `.gz` and sidecar both present), sorted by name. */
export async function listArchivedWal(archiveDir: string): Promise<ArchivedWal[]> {
  let names: string[];
  try {
    names = await readdir(archiveDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const present = new Set(names);
  const out: ArchivedWal[] = [];
  for (const n of names) {
    if (!n.endsWith('.gz.json') || !present.has(n.slice(0, -5))) continue;
    try {
      out.push(JSON.parse(await readFile(join(archiveDir, n), 'utf8')) as ArchivedWal);
    } catch {
      const s = await stat(join(archiveDir, n.slice(0, -5)));
      out.push({
        name: n.slice(0, -8),
        size: -1,
        storedSize: s.size,
        sha256: '',
        walEndTime: s.mtime.toISOString(),
        archivedAt: s.mtime.toISOString(),
      });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Checks archived WAL files; returns the problems by file name. */
export async function verifyArchivedWal(
  archiveDir: string,
  names: readonly string[],
): Promise<{ file: string; problem: string }[]> {
  const problems: { file: string; problem: string }[] = [];
  for (const name of names) {
    try {
      if (!(await readArchivedWal(archiveDir, name)))
        problems.push({ file: `${name}.gz`, problem: 'missing' });
    } catch (error) {
      problems.push({ file: `${name}.gz`, problem: (error as Error).message });
    }
  }
  return problems;
}

export async function deleteArchivedWal(archiveDir: string, names: readonly string[]): Promise<void> {
  for (const n of names) {
    // The .gz first: a sidecar alone is ignored, a .gz alone would look corrupt.
    await rm(join(archiveDir, `${n}.gz`), { force: true });
    await rm(join(archiveDir, `${n}.gz.json`), { force: true });
  }
}

export interface ArchiverStatus {
  archivedCount: number;
  lastArchivedWal: string | null;
  lastArchivedTime: string | null;
  failedCount: number;
  lastFailedWal: string | null;
  lastFailedTime: string | null;
  /** Segments waiting in pg_wal for the archiver (.ready): a growing number means archiving is stuck. */
  pending: number;
}

export const ARCHIVER_STATUS_SQL = `SELECT archived_count, last_archived_wal, last_archived_time, failed_count,
  last_failed_wal, last_failed_time,
  (SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready')::int AS pending
  FROM pg_stat_archiver`;

export function toArchiverStatus(r: Record<string, unknown>): ArchiverStatus {
  const t = (v: unknown) => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : null);
  return {
    archivedCount: Number(r.archived_count),
    lastArchivedWal: (r.last_archived_wal as string | null) ?? null,
    lastArchivedTime: t(r.last_archived_time),
    failedCount: Number(r.failed_count),
    lastFailedWal: (r.last_failed_wal as string | null) ?? null,
    lastFailedTime: t(r.last_failed_time),
    pending: Number(r.pending),
  };
}
