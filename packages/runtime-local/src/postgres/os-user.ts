import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { userInfo } from 'node:os';
import { PreconditionFailedError } from '@msp/core';

const run = promisify(execFile);

/** An operating-system user MSP runs a kind of process as (PostgreSQL, service instances). */
export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  /** True when MSP runs as root and must switch to this user for every process of its kind. */
  switchUser: boolean;
}

/** The system user PostgreSQL runs as when MSP runs as root (PostgreSQL refuses to run as root). */
export const POSTGRES_OS_USER = 'msp-postgres';
/**
 * The system user service instances run as when MSP runs as root: not root (which owns the admin token and
 * every secret), and not msp-postgres (which owns the databases' files).
 */
export const SERVICE_OS_USER = 'msp-service';

const pending = new Map<string, Promise<OsUser>>();

/**
 * The user to run processes of one kind as: the current user, or the named system user (created when
 * missing) when the current user is root.
 */
function systemUser(name: string, why: string): Promise<OsUser> {
  let p = pending.get(name);
  if (!p) {
    p = resolveUser(name, why).catch((error: unknown) => {
      pending.delete(name);
      throw error;
    });
    pending.set(name, p);
  }
  return p;
}

/** The user to run PostgreSQL as: the current user, or `msp-postgres` when the current user is root. */
export function postgresOsUser(): Promise<OsUser> {
  return systemUser(POSTGRES_OS_USER, 'PostgreSQL cannot run as root');
}

/** The user to run service instances as: the current user, or `msp-service` when the current user is root. */
export function serviceOsUser(): Promise<OsUser> {
  return systemUser(SERVICE_OS_USER, 'Services do not run as root');
}

async function resolveUser(name: string, why: string): Promise<OsUser> {
  if (process.getuid?.() !== 0) {
    const me = userInfo();
    return { name: me.username, uid: me.uid, gid: me.gid, switchUser: false };
  }
  const existing = await lookup(name);
  if (existing) return existing;
  try {
    await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  } catch (cause) {
    // Another process may have created it in the meantime; only fail when it is still missing.
    const raced = await lookup(name);
    if (raced) return raced;
    throw new PreconditionFailedError(
      `${why} and the system user ${name} could not be created: ` +
        `create it with \`useradd --system --no-create-home --shell /usr/sbin/nologin ${name}\`.`,
      { cause },
    );
  }
  const created = await lookup(name);
  if (!created) {
    throw new PreconditionFailedError(
      `The system user ${name} was created but \`getent passwd ${name}\` does not find it: check /etc/nsswitch.conf.`,
    );
  }
  return created;
}

async function lookup(name: string): Promise<OsUser | undefined> {
  try {
    const { stdout } = await run('getent', ['passwd', name]);
    const fields = stdout.trim().split(':');
    const uid = Number(fields[2]);
    const gid = Number(fields[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) return undefined;
    return { name, uid, gid, switchUser: true };
  } catch {
    return undefined; // getent exits 2 when the user does not exist
  }
}
