#!/usr/bin/env node
/**
 * PostgreSQL's `restore_command` for MSP restores: `node fetch-wal.js %f %p <archiveDir> [<spoolDir>]`.
 *
 * Reads `<archiveDir>/<f>.gz`, checks it against its sidecar (sha256 of the stored and of the raw bytes),
 * decompresses it to %p. A file that is not in the archive exits 1: PostgreSQL takes that as the end of
 * the archive. A corrupt file (or one without its sidecar) exits 128, which PostgreSQL treats as a hard
 * failure and aborts recovery: a restore never silently stops short at a damaged segment.
 *
 * With a spool dir, the first segment fetched also starts a prefetcher (`--prefetch`, a detached process,
 * like pgBackRest's asynchronous archive-get): it verifies and decompresses the segments that follow into
 * the spool, a few ahead of recovery, while PostgreSQL replays. The restore_command line (see
 * recovery.ts) moves a spooled segment into place with `mv` and only runs this script on a miss, so
 * replay no longer waits for a Node start, two checksums and a gunzip per segment.
 *
 * Runs as the PostgreSQL OS user; imports nothing but Node built-ins and concurrency.ts (no packages).
 */
import { spawn } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { eachLimit } from './concurrency.js';

const gunzipAsync = promisify(gunzip);

export class CorruptWalError extends Error {}

/** sha256 on the libuv threadpool (WebCrypto), so that the prefetcher's segments hash side by side. */
async function sha256Hex(data: Buffer): Promise<string> {
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', data)).toString('hex');
}

/** The raw content of an archived WAL file, verified; undefined when the archive does not hold it. */
export async function readArchivedWal(archiveDir: string, name: string): Promise<Buffer | undefined> {
  if (!/^[0-9A-Za-z._-]+$/.test(name) || name.startsWith('.')) {
    throw new CorruptWalError(`invalid WAL file name ${JSON.stringify(name)}`);
  }
  let stored: Buffer;
  try {
    stored = await readFile(join(archiveDir, `${name}.gz`));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    // The segment the WAL receiver was streaming (wal-receiver.ts): zero-padded to full size, served as
    // is so recovery reaches the last streamed record (it has no checksum yet: it was still growing).
    return await readFile(join(archiveDir, `${name}.partial`)).catch(() => undefined);
  }
  let info: { size: number; sha256: string; storedSha256: string };
  try {
    info = JSON.parse(await readFile(join(archiveDir, `${name}.gz.json`), 'utf8')) as typeof info;
  } catch (cause) {
    throw new CorruptWalError(`${name}.gz: its checksum file ${name}.gz.json is missing or unreadable`, {
      cause,
    });
  }
  if ((await sha256Hex(stored)) !== info.storedSha256) {
    throw new CorruptWalError(`${name}.gz is corrupt: its sha256 does not match ${name}.gz.json`);
  }
  let raw: Buffer;
  try {
    raw = await gunzipAsync(stored);
  } catch (cause) {
    throw new CorruptWalError(`${name}.gz is corrupt: ${(cause as Error).message}`, { cause });
  }
  // The stored bytes matched their sha256 and gunzip checked its own CRC-32 of the content: a second
  // sha256 over 16 MiB of raw WAL per segment would only slow replay down. The size still has to match.
  if (raw.length !== info.size) {
    throw new CorruptWalError(
      `${name}.gz is corrupt: it decompresses to ${raw.length} bytes, not ${info.size}`,
    );
  }
  return raw;
}

const SEGMENT = /^[0-9A-F]{24}$/;
/** A segment the prefetcher cannot spool (missing, corrupt, or recovery idle): it stops. */
class StopPrefetch extends Error {}
/** How many verified segments the prefetcher keeps ready ahead of recovery (16 MiB each). */
const AHEAD = 16;
/** The prefetcher gives up when recovery has not taken a segment for this long (target reached). */
const IDLE_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The newest segment recovery fetched without the spool: the prefetcher skips what is behind it. */
const consumedMark = (spoolDir: string) => join(spoolDir, '.consumed');

async function readConsumed(spoolDir: string): Promise<string> {
  return (await readFile(consumedMark(spoolDir), 'utf8').catch(() => '')).trim();
}

/** Verified segments waiting in the spool; stale ones (behind recovery) are removed. */
async function spooled(spoolDir: string, consumed: string): Promise<string[]> {
  const names = (await readdir(spoolDir).catch(() => [] as string[])).filter((n) => SEGMENT.test(n));
  const stale = names.filter((n) => n <= consumed);
  await Promise.all(stale.map((n) => rm(join(spoolDir, n), { force: true })));
  return names.filter((n) => n > consumed);
}

/**
 * The prefetcher: verified segments of `after`'s timeline, in order, into the spool, AHEAD at a time
 * (from `after` itself when `inclusive`).
 */
async function prefetch(
  archiveDir: string,
  spoolDir: string,
  after: string,
  inclusive = false,
): Promise<void> {
  const timeline = after.slice(0, 8);
  let last = after;
  let first = inclusive;
  let progressAt = Date.now();
  try {
    for (;;) {
      const next = (await readdir(archiveDir))
        .filter((n) => n.endsWith('.gz') && SEGMENT.test(n.slice(0, -3)) && n.startsWith(timeline))
        .map((n) => n.slice(0, -3))
        .filter((n) => n > last || (first && n === last))
        .sort();
      first = false;
      if (next.length === 0) return;
      // One segment per core in flight, taken in order as each finishes (not in lockstep batches):
      // hashing and gunzip run on the libuv threadpool, so every core helps while replay waits.
      const stopped = await eachLimit(next, Math.max(2, availableParallelism()), async (name) => {
        if (!(await spoolOne(name))) throw new StopPrefetch();
      }).then(
        () => false,
        (error: unknown) => {
          if (error instanceof StopPrefetch) return true;
          throw error;
        },
      );
      if (stopped) return;
    }
  } finally {
    await rm(join(spoolDir, '.prefetch.lock'), { force: true });
  }

  /** Waits for room in the spool, then spools one verified segment; false when it cannot (stop). */
  async function spoolOne(name: string): Promise<boolean> {
    for (;;) {
      const consumed = await readConsumed(spoolDir);
      if (name <= consumed) break;
      const waiting = await spooled(spoolDir, consumed);
      if (waiting.length < AHEAD) break;
      if (Date.now() - progressAt > IDLE_MS) return false;
      await sleep(25);
    }
    if (name > last) last = name;
    if (name <= (await readConsumed(spoolDir))) return true;
    if (await exists(join(spoolDir, name))) return true;
    // A corrupt or missing segment is not spooled: the direct fetch meets it and aborts recovery.
    const raw = await readArchivedWal(archiveDir, name).catch(() => undefined);
    if (!raw) return false;
    const tmp = join(spoolDir, `.${name}.tmp`);
    await writeFile(tmp, raw, { mode: 0o600 });
    await rename(tmp, join(spoolDir, name));
    progressAt = Date.now();
    return true;
  }
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/**
 * Starts the prefetcher unless one runs already (a lock file holding its pid). `from` (a restore that
 * knows its first segment starts it before PostgreSQL asks) includes `after` itself; `user` runs it as
 * the PostgreSQL OS user, who must own what it spools.
 */
export async function startPrefetch(
  archiveDir: string,
  spoolDir: string,
  after: string,
  options: { from?: boolean; user?: { uid: number; gid: number } } = {},
): Promise<void> {
  const lock = join(spoolDir, '.prefetch.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lock, 'wx', 0o600);
      const child = spawn(
        process.execPath,
        [
          fileURLToPath(import.meta.url),
          options.from ? '--prefetch-from' : '--prefetch',
          archiveDir,
          spoolDir,
          after,
        ],
        { detached: true, stdio: 'ignore', ...(options.user ?? {}) },
      );
      child.unref();
      await handle.writeFile(String(child.pid ?? ''));
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return;
      const pid = Number(await readFile(lock, 'utf8').catch(() => ''));
      try {
        if (pid > 0) {
          process.kill(pid, 0);
          return; // alive: it is ahead of us
        }
      } catch {
        // dead: take its place
      }
      await rm(lock, { force: true });
    }
  }
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--prefetch' || argv[0] === '--prefetch-from') {
    const [, archiveDir, spoolDir, after] = argv;
    if (archiveDir && spoolDir && after) {
      await prefetch(archiveDir, spoolDir, after, argv[0] === '--prefetch-from').catch(() => undefined);
    }
    return 0;
  }
  const [fileName, targetPath, archiveDir, spoolDir] = argv;
  if (fileName === undefined || targetPath === undefined || archiveDir === undefined) {
    process.stderr.write('usage: fetch-wal <file name %f> <path %p> <archive dir> [<spool dir>]\n');
    return 2;
  }
  try {
    const raw = await readArchivedWal(archiveDir, fileName);
    if (!raw) return 1;
    const target = resolve(targetPath);
    await writeFile(`${target}.msp-fetch`, raw, { mode: 0o600 });
    await rename(`${target}.msp-fetch`, target);
    if (spoolDir !== undefined && SEGMENT.test(fileName)) {
      await writeFile(consumedMark(spoolDir), fileName).catch(() => undefined);
      await startPrefetch(archiveDir, spoolDir, fileName).catch(() => undefined);
    }
    return 0;
  } catch (error) {
    process.stderr.write(`fetch-wal: ${error instanceof Error ? error.message : String(error)}\n`);
    // > 125 aborts recovery (PostgreSQL treats it like a signal); a plain 1 would end recovery early,
    // as if the archive ended here.
    return 128;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
