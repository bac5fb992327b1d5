/** Files and directories of a cluster, and who owns them (PostgreSQL may run as another OS user). */
import { constants } from 'node:fs';
import {
  access,
  chmod,
  chown,
  lchown,
  mkdir,
  readFile,
  readdir,
  rename,
  stat,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, parse } from 'node:path';
import { PreconditionFailedError } from '@msp/core';
import type { OsUser } from './os-user.js';

const LOG_ROTATE_BYTES = 10 * 1024 * 1024;

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** The file's text from byte `offset` on ('' when missing). */
export async function readFrom(path: string, offset: number): Promise<string> {
  try {
    const content = await readFile(path);
    return content.subarray(Math.min(offset, content.length)).toString('utf8');
  } catch {
    return '';
  }
}

/** Keeps one previous server log once it passes 10 MiB. */
export async function rotateLog(path: string): Promise<void> {
  if ((await fileSize(path)) > LOG_ROTATE_BYTES) await rename(path, `${path}.1`);
}

/** Writes an owner-only file for the PostgreSQL user when its content differs; says whether it did. */
export async function writeIfChanged(path: string, content: string, user: OsUser): Promise<boolean> {
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
export async function mkdirParents(path: string): Promise<void> {
  const missing: string[] = [];
  for (let p = dirname(path); p !== parse(p).root && !(await exists(p)); p = dirname(p)) missing.unshift(p);
  for (const p of missing) {
    await mkdir(p, { mode: 0o711 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    await chmod(p, 0o711);
  }
}

export async function ensureOwnedDir(path: string, user: OsUser, mode: number): Promise<void> {
  await mkdir(path, { recursive: true, mode });
  const s = await stat(path);
  if (user.switchUser && (s.uid !== user.uid || s.gid !== user.gid)) await chown(path, user.uid, user.gid);
  if ((s.mode & 0o777) !== mode) await chmod(path, mode);
}

/** Every ancestor must let the PostgreSQL user through (x permission for the class it falls into). */
export async function assertTraversable(path: string, user: OsUser): Promise<void> {
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
export async function chownTreeIfNeeded(path: string, user: OsUser): Promise<void> {
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
