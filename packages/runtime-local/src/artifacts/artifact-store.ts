/**
 * A content-addressed store of release bundles: a directory of built code packed as a tar.gz, named by
 * the sha256 of its bytes (`<root>/artifacts/sha256/<hex>.tar.gz`), verified before every use, and
 * extracted once to `<root>/releases/<hex>/` (extract to a temp dir, then rename: a half-extracted
 * release is never seen). Bundles and extracted code are owner-only (folders 0700, files 0600). The extracted dir gets a `node_modules` symlink to the modules the code was
 * built against, so its imports resolve (ESM ignores NODE_PATH).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { InputError, NotFoundError, PreconditionFailedError } from '@msp/core';
import {
  ensurePrivateDir,
  makeTreePrivate,
  PRIVATE_FILE_MODE,
  shareTreeWithGroup,
} from '../private-files.js';
import { checkPackable, isPackSkipped } from './pack-check.js';

export interface ArtifactStoreOptions {
  /** The data dir: artifacts under `<root>/artifacts`, extracted releases under `<root>/releases`. */
  root: string;
}

export interface PackedArtifact {
  /** `sha256:<64 hex>` */
  digest: string;
  path: string;
  size: number;
  files: number;
}

export interface ArtifactStore {
  /** Packs a directory (its package.json `files` if present, never node_modules) and stores it. */
  pack(sourceDir: string): Promise<PackedArtifact>;
  /** Hashes the stored artifact again; refuses (naming the digest) when it is missing or does not match. */
  verify(digest: string): Promise<{ path: string; size: number }>;
  /**
   * Verifies, then returns the extracted dir (extracting it once); `nodeModules` is linked inside. With
   * `readableByGroup`, that group may read (not write) the code: the user instances run as.
   */
  extract(digest: string, options?: { nodeModules?: string; readableByGroup?: number }): Promise<string>;
  pathOf(digest: string): string;
}

const DIGEST = /^sha256:([0-9a-f]{64})$/;

export function hexOf(digest: string): string {
  const m = DIGEST.exec(digest);
  if (!m)
    throw new InputError(`Not a content digest: '${digest}'; expected "sha256:" and 64 hex characters.`);
  return m[1]!;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** The entries to pack: package.json `files` (plus package.json itself) when declared, else everything. */
async function entriesOf(sourceDir: string): Promise<string[]> {
  const skip = (name: string) => name === 'node_modules' || name === '.git' || name.endsWith('.tsbuildinfo');
  let declared: string[] | undefined;
  try {
    const pkg = JSON.parse(await readFile(join(sourceDir, 'package.json'), 'utf8')) as { files?: unknown };
    if (Array.isArray(pkg.files)) declared = pkg.files.filter((f): f is string => typeof f === 'string');
  } catch {
    // no package.json: pack the directory
  }
  const top = declared
    ? ['package.json', ...declared.map((f) => f.replace(/^\.\//, '').replace(/\/+$/, ''))]
    : (await readdir(sourceDir)).filter((n) => !skip(n));
  const out: string[] = [];
  for (const entry of [...new Set(top)].sort()) {
    const abs = resolve(sourceDir, entry);
    if (abs !== sourceDir && !abs.startsWith(sourceDir + sep)) {
      throw new InputError(`package.json files entry '${entry}' points outside ${sourceDir}.`);
    }
    if (existsSync(abs)) out.push(relative(sourceDir, abs));
  }
  return out;
}

export function createArtifactStore(options: ArtifactStoreOptions): ArtifactStore {
  const artifactsDir = join(options.root, 'artifacts', 'sha256');
  const releasesDir = join(options.root, 'releases');
  const pathOf = (digest: string) => join(artifactsDir, `${hexOf(digest)}.tar.gz`);

  async function verify(digest: string): Promise<{ path: string; size: number }> {
    const path = pathOf(digest);
    if (!existsSync(path)) {
      throw new NotFoundError(
        `Artifact ${digest} is not in the artifact store (${artifactsDir}); create the release again from its code.`,
      );
    }
    const actual = await sha256File(path);
    if (`sha256:${actual}` !== digest) {
      throw new PreconditionFailedError(
        `Artifact ${digest} does not match its content (sha256:${actual}): refusing to use it. Remove ${path} and create the release again.`,
      );
    }
    return { path, size: (await stat(path)).size };
  }

  return {
    pathOf,
    verify,
    async pack(sourceDir) {
      const dir = resolve(sourceDir);
      if (!existsSync(dir) || !(await stat(dir)).isDirectory()) {
        throw new InputError(`Cannot pack ${dir}: it is not a directory. Point --from at the built code.`);
      }
      const entries = await entriesOf(dir);
      if (entries.length === 0) throw new InputError(`Nothing to pack in ${dir}.`);
      await checkPackable(dir, entries);
      await ensurePrivateDir(dirname(artifactsDir));
      await ensurePrivateDir(artifactsDir);
      // A folder of its own: removing it on failure also stops a late write from leaving a file behind.
      const work = await mkdtemp(join(artifactsDir, '.pack-'));
      const tmp = join(work, 'bundle.tar.gz');
      let files = 0;
      try {
        // portable + fixed mtime: the same code gives the same bytes, so the same digest.
        await tar.create(
          {
            gzip: { level: 6 },
            file: tmp,
            cwd: dir,
            portable: true,
            noMtime: true,
            filter: (path) => {
              if (isPackSkipped(path)) return false;
              files++;
              return true;
            },
          },
          entries,
        );
        const hex = await sha256File(tmp);
        const path = join(artifactsDir, `${hex}.tar.gz`);
        if (!existsSync(path)) await rename(tmp, path);
        await chmod(path, PRIVATE_FILE_MODE);
        return { digest: `sha256:${hex}`, path, size: (await stat(path)).size, files };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EACCES' || code === 'EPERM') {
          throw new InputError(
            `Cannot pack ${dir}: ${(error as Error).message}; make it readable by the user running MSP, or leave it out of the release (package.json "files").`,
            { cause: error },
          );
        }
        throw error;
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
    async extract(digest, extractOptions = {}) {
      const { path } = await verify(digest);
      const hex = hexOf(digest);
      const target = join(releasesDir, hex);
      const gid = extractOptions.readableByGroup;
      const share = async (dir: string) => {
        if (gid !== undefined && (await stat(dir)).gid !== gid) await shareTreeWithGroup(dir, gid);
      };
      if (gid === undefined) await ensurePrivateDir(releasesDir);
      else {
        // The releases folder: that group may pass through it, not list it.
        await mkdir(releasesDir, { recursive: true, mode: 0o710 });
        await chown(releasesDir, process.getuid?.() ?? 0, gid);
        await chmod(releasesDir, 0o710);
      }
      if (existsSync(target)) {
        await share(target);
        return target;
      }
      const tmp = join(releasesDir, `.extract-${hex.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
      try {
        await mkdir(tmp, { mode: 0o700 });
        await tar.extract({ file: path, cwd: tmp, strict: true, preservePaths: false });
        // Owner-only, whatever modes the bundle's files had: other users cannot read a release's code.
        await makeTreePrivate(tmp);
        await share(tmp);
        if (extractOptions.nodeModules && !existsSync(join(tmp, 'node_modules'))) {
          await symlink(extractOptions.nodeModules, join(tmp, 'node_modules'), 'dir');
        }
        try {
          await rename(tmp, target);
        } catch (error) {
          // Someone extracted the same release meanwhile: theirs is as good as ours.
          if (!existsSync(target)) throw error;
          await rm(tmp, { recursive: true, force: true });
        }
        return target;
      } catch (error) {
        await rm(tmp, { recursive: true, force: true });
        throw error;
      }
    },
  };
}

/** The nearest `node_modules` at or above `dir` that holds `probe` (e.g. "@msp/core"). */
export function findNodeModules(dir: string, probe = '@msp/core'): string | undefined {
  for (let d = resolve(dir); ;) {
    const candidate = join(d, 'node_modules');
    if (existsSync(join(candidate, probe))) return candidate;
    const up = resolve(d, '..');
    if (up === d) return undefined;
    d = up;
  }
}
