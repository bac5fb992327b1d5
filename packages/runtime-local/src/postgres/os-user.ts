import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { userInfo } from 'node:os';
import { PreconditionFailedError } from '@msp/core';

const run = promisify(execFile);

/** The operating-system user PostgreSQL runs as. */
export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  /** True when MSP runs as root and must switch to this user for every PostgreSQL process. */
  switchUser: boolean;
}

/** The system user PostgreSQL runs as when MSP runs as root (PostgreSQL refuses to run as root). */
export const POSTGRES_OS_USER = 'msp-postgres';

let pending: Promise<OsUser> | undefined;

/**
 * The user to run PostgreSQL as: the current user, or `msp-postgres` (created when missing) when the
 * current user is root.
 */
export function postgresOsUser(): Promise<OsUser> {
  pending ??= resolveUser().catch((error: unknown) => {
    pending = undefined;
    throw error;
  });
  return pending;
}

async function resolveUser(): Promise<OsUser> {
  if (process.getuid?.() !== 0) {
    const me = userInfo();
    return { name: me.username, uid: me.uid, gid: me.gid, switchUser: false };
  }
  const existing = await lookup(POSTGRES_OS_USER);
  if (existing) return existing;
  try {
    await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', POSTGRES_OS_USER]);
  } catch (cause) {
    // Another process may have created it in the meantime; only fail when it is still missing.
    const raced = await lookup(POSTGRES_OS_USER);
    if (raced) return raced;
    throw new PreconditionFailedError(
      `PostgreSQL cannot run as root and the system user ${POSTGRES_OS_USER} could not be created: ` +
        `create it with \`useradd --system --no-create-home --shell /usr/sbin/nologin ${POSTGRES_OS_USER}\`.`,
      { cause },
    );
  }
  const created = await lookup(POSTGRES_OS_USER);
  if (!created) {
    throw new PreconditionFailedError(
      `The system user ${POSTGRES_OS_USER} was created but \`getent passwd ${POSTGRES_OS_USER}\` does not find it: check /etc/nsswitch.conf.`,
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
