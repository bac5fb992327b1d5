/** PostgreSQL's programs run as the PostgreSQL OS user: initdb, pg_ctl, and finding the postmaster. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UnavailableError } from '@msp/core';
import { currentPlatform } from '../platform.js';
import { postgresBinaries } from './binaries.js';
import type { OsUser } from './os-user.js';
import { CLUSTER_ROLES } from './roles.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a PostgreSQL program as the PostgreSQL OS user, with a minimal environment (no secrets). */
export function runAsPostgres(user: OsUser, cwd: string, file: string, args: string[]): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, {
      cwd,
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

/**
 * initdb into `<dir>/data.initdb`, renamed to `dataDir` when complete: the data directory appears whole
 * or not at all. The admin role is the bootstrap superuser; its password goes through a 0600 file.
 */
export async function initdb(o: {
  name: string;
  dir: string;
  dataDir: string;
  runDir: string;
  adminPassword: string;
  fsync?: boolean;
  user: OsUser;
}): Promise<void> {
  const { bin } = postgresBinaries();
  const staging = join(o.dir, 'data.initdb');
  const pwfile = join(o.runDir, `.initdb-pw-${randomBytes(6).toString('hex')}`);
  await rm(staging, { recursive: true, force: true });
  await writeFile(pwfile, o.adminPassword, { mode: 0o600 });
  try {
    if (o.user.switchUser) await chown(pwfile, o.user.uid, o.user.gid);
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
    if (o.fsync === false) args.push('--no-sync');
    const result = await runAsPostgres(o.user, o.dir, join(bin, 'initdb'), args);
    if (result.code !== 0) {
      throw new UnavailableError(
        `Cluster ${o.name}: initdb failed (exit ${result.code}): ${tail(result.stderr || result.stdout)}; ` +
          `fix the cause and run again (the partial directory ${staging} is removed on retry).`,
      );
    }
  } finally {
    await rm(pwfile, { force: true });
  }
  // A crash during initdb leaves only the staging dir.
  await rename(staging, o.dataDir);
}

/** The last lines of a program's output, on one line. */
export function tail(text: string, lines = 8): string {
  return text.trim().split('\n').slice(-lines).join(' | ');
}

/** True when `pid` is alive and is the postmaster of `dataDir` (not a recycled pid). */
export async function isPostmasterOf(pid: number, dataDir: string): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const platform = currentPlatform();
  const facts = await platform.processFacts(pid);
  if (facts === undefined || facts.state === 'Z') return false; // a zombie is not running
  // The postmaster chdirs into its data directory.
  const cwd = await platform.processCwd(pid);
  if (cwd !== undefined) return resolve(cwd) === (await realpath(dataDir).catch(() => dataDir));
  return (await platform.processCommand(pid))?.includes('postgres') ?? false;
}
