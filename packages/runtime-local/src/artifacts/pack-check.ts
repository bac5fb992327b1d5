/**
 * Checks a folder before it is packed into a release bundle, so a problem is reported while packing,
 * naming the file and the fix, instead of as a raw tar or delivery error after the release exists:
 * symlinks must stay inside the folder (relative, no loop), every file and folder must be readable,
 * and only regular files, folders and symlinks can be packed.
 */
import { constants } from 'node:fs';
import { access, lstat, readdir, readlink, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { InputError } from '@msp/core';

/** node_modules and .git are never packed (their contents are not checked either). */
export function isPackSkipped(relPath: string): boolean {
  const parts = relPath.split(/[\\/]/);
  return parts.includes('node_modules') || parts.includes('.git');
}

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root + sep);
}

/** Walks `entries` (relative to `dir`) and throws an InputError for the first thing that cannot be packed. */
export async function checkPackable(dir: string, entries: readonly string[]): Promise<void> {
  const realDir = await realpath(dir);
  const unreadable = (rel: string, error: unknown): InputError =>
    new InputError(
      `Cannot pack ${dir}: ${rel} is not readable (${(error as NodeJS.ErrnoException).code ?? String(error)}); ` +
        'make it readable by the user running MSP, or leave it out of the release (package.json "files").',
      { cause: error, details: { path: rel } },
    );
  const check = async (rel: string): Promise<void> => {
    if (isPackSkipped(rel)) return;
    const abs = join(dir, rel);
    const s = await lstat(abs);
    if (s.isSymbolicLink()) {
      await checkLink(dir, realDir, rel);
      return;
    }
    if (s.isDirectory()) {
      let names: string[];
      try {
        await access(abs, constants.R_OK | constants.X_OK);
        names = await readdir(abs);
      } catch (error) {
        throw unreadable(`${rel}/`, error);
      }
      for (const name of names.sort()) await check(join(rel, name));
      return;
    }
    if (!s.isFile()) {
      const kind = s.isFIFO() ? 'a named pipe' : s.isSocket() ? 'a socket' : 'a device file';
      throw new InputError(
        `Cannot pack ${dir}: ${rel} is ${kind}; a release holds only files, folders and relative symlinks: ` +
          'remove it or leave it out of the release (package.json "files").',
        { details: { path: rel } },
      );
    }
    try {
      await access(abs, constants.R_OK);
    } catch (error) {
      throw unreadable(rel, error);
    }
  };
  for (const entry of entries) await check(entry);
}

async function checkLink(dir: string, realDir: string, rel: string): Promise<void> {
  const abs = join(dir, rel);
  const target = await readlink(abs);
  const fix = 'replace it with a copy of what it points to, or a relative link to a file inside the folder';
  if (isAbsolute(target)) {
    throw new InputError(
      `Cannot pack ${dir}: ${rel} is a symlink to the absolute path ${target}, which will not exist where ` +
        `the release runs; ${fix}.`,
      { details: { path: rel, target } },
    );
  }
  let resolved: string;
  try {
    resolved = await realpath(abs);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') {
      throw new InputError(
        `Cannot pack ${dir}: ${rel} is a symlink loop (-> ${target} leads back to itself); ${fix}.`,
        { cause: error, details: { path: rel, target } },
      );
    }
    if (code !== 'ENOENT') throw error;
    // Dangling: judged by where it points, as written.
    resolved = resolve(dirname(abs), target);
    if (inside(resolve(dir), resolved)) return;
  }
  if (!inside(realDir, resolved)) {
    throw new InputError(
      `Cannot pack ${dir}: ${rel} is a symlink leaving the folder (-> ${target}, ${relative(realDir, resolved)} ` +
        `from it); ${fix}.`,
      { details: { path: rel, target } },
    );
  }
}
