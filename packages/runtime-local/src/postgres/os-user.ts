import { userInfo } from 'node:os';
import { PreconditionFailedError } from '@msp/core';
import { currentPlatform, type Platform } from '../platform.js';

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
    p = resolveUser(name, why, currentPlatform()).catch((error: unknown) => {
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

async function resolveUser(name: string, why: string, platform: Platform): Promise<OsUser> {
  if (!platform.runsAsRoot()) {
    const me = userInfo();
    return { name: me.username, uid: me.uid, gid: me.gid, switchUser: false };
  }
  const lookup = async (): Promise<OsUser | undefined> => {
    const ids = await platform.lookupUser(name);
    return ids && { name, ...ids, switchUser: true };
  };
  const existing = await lookup();
  if (existing) return existing;
  try {
    await platform.createSystemUser(name, why);
  } catch (error) {
    // Another process may have created it in the meantime; only fail when it is still missing.
    const raced = await lookup();
    if (raced) return raced;
    throw error;
  }
  const created = await lookup();
  if (!created) {
    throw new PreconditionFailedError(
      `The system user ${name} was created but looking it up does not find it: check /etc/nsswitch.conf.`,
    );
  }
  return created;
}
