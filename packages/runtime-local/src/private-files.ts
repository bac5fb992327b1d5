/**
 * Owner-only modes for what MSP keeps for a deployment (release bundles and their extracted code,
 * volumes, logs): folders 0700, files 0600 (0700 when executable). Parents MSP does not own keep their
 * mode: the data dir must stay traversable for the PostgreSQL user.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { chmod, chown, lchown, lstat, mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `path` as an owner-only folder (missing parents with the default mode), or makes it one. */
export async function ensurePrivateDir(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await mkdir(path, { mode: PRIVATE_DIR_MODE }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  await chmod(path, PRIVATE_DIR_MODE);
}

/** ensurePrivateDir, synchronously (for the log writer, which opens its file synchronously). */
export function ensurePrivateDirSync(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  try {
    mkdirSync(path, { mode: PRIVATE_DIR_MODE });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  chmodSync(path, PRIVATE_DIR_MODE);
}

/** The owner-only mode for a file of mode `mode`: 0700 when its owner may execute it, else 0600. */
export function privateFileMode(mode: number): number {
  return mode & 0o100 ? 0o700 : PRIVATE_FILE_MODE;
}

/** Makes every folder and file under `root` (and root) owner-only; symlinks are left as they are. */
export async function makeTreePrivate(root: string): Promise<void> {
  const walk = async (path: string): Promise<void> => {
    const s = await lstat(path);
    if (s.isSymbolicLink()) return;
    if (s.isDirectory()) {
      await chmod(path, PRIVATE_DIR_MODE);
      for (const name of await readdir(path)) await walk(join(path, name));
    } else if ((s.mode & 0o777) !== privateFileMode(s.mode)) {
      await chmod(path, privateFileMode(s.mode));
    }
  };
  await walk(root);
}

/**
 * Lets one group read (never write) a private tree: folders 0750, files 0640 (0750 when executable), group
 * `gid`, owner unchanged. Extracted release code is shared this way with the user service instances run
 * as; nobody else can read it.
 */
export async function shareTreeWithGroup(root: string, gid: number): Promise<void> {
  const walk = async (path: string): Promise<void> => {
    const s = await lstat(path);
    if (s.isSymbolicLink()) return;
    if (s.gid !== gid) await chown(path, s.uid, gid);
    if (s.isDirectory()) {
      await chmod(path, 0o750);
      for (const name of await readdir(path)) await walk(join(path, name));
    } else {
      await chmod(path, privateFileMode(s.mode) | (s.mode & 0o100 ? 0o050 : 0o040));
    }
  };
  await walk(root);
}

/**
 * Gives a tree to another user (owner and group), keeping its modes: a deployment's volumes belong to
 * the user its instances run as, so they can write there and nowhere else. Symlinks are re-owned, not
 * followed.
 */
export async function giveTreeTo(root: string, uid: number, gid: number): Promise<void> {
  const walk = async (path: string): Promise<void> => {
    const s = await lstat(path);
    if (s.uid !== uid || s.gid !== gid) await lchown(path, uid, gid);
    if (s.isDirectory()) for (const name of await readdir(path)) await walk(join(path, name));
  };
  await walk(root);
}
