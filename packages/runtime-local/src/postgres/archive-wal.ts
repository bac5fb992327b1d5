#!/usr/bin/env node
/**
 * PostgreSQL's `archive_command`: `node archive-wal.js %p %f <archiveDir>`.
 *
 * Stores the WAL file compressed as `<archiveDir>/<f>.gz` with a checksum sidecar `<f>.gz.json`
 * (sha256 and size of the raw file and of the compressed one, and the file's last write time, which is
 * how far the archive reaches in time). Both are written to temporary names, fsynced, and renamed:
 * sidecar first, then the `.gz`, then the directory is fsynced, so a `.gz` that exists is complete and
 * has its checksums. Never overwrites: when the file was already archived with identical content (a
 * retry after a crash between the rename and PostgreSQL noting the success) it succeeds; with different
 * content it fails, and PostgreSQL keeps the segment in pg_wal and retries (pg_stat_archiver counts the
 * failures; `msp backup list` reports them). Exit code 0 tells PostgreSQL the file is safe.
 *
 * It runs as the PostgreSQL OS user and imports nothing but Node built-ins (it starts once per segment).
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

export type ArchiveOutcome = 'archived' | 'already-archived';

/** The sidecar `<f>.gz.json` of an archived WAL file. */
export interface ArchivedWalInfo {
  name: string;
  size: number;
  sha256: string;
  storedSize: number;
  storedSha256: string;
  /** Last write into the file before it was archived (ISO time): the archive covers WAL up to here. */
  walEndTime: string;
  archivedAt: string;
}

export const ARCHIVE_SUFFIX = '.gz';
export const SIDECAR_SUFFIX = '.gz.json';

export async function archiveWal(
  segmentPath: string,
  fileName: string,
  archiveDir: string,
): Promise<ArchiveOutcome> {
  if (fileName.includes('/') || fileName === '' || fileName.startsWith('.')) {
    throw new Error(`invalid WAL file name ${JSON.stringify(fileName)}`);
  }
  const source = isAbsolute(segmentPath) ? segmentPath : resolve(segmentPath);
  const destination = join(archiveDir, fileName + ARCHIVE_SUFFIX);
  const sidecar = join(archiveDir, fileName + SIDECAR_SUFFIX);
  const [raw, sourceStat] = await Promise.all([readFile(source), stat(source)]);
  const sha256 = createHash('sha256').update(raw).digest('hex');
  if (await exists(destination)) {
    const info = await readSidecar(sidecar);
    if (info?.sha256 === sha256 && info.size === raw.length) return 'already-archived';
    throw new Error(
      `${destination} already exists with different content: refusing to overwrite an archived WAL file; ` +
        'move it aside after checking which copy is right',
    );
  }
  const stored = await gzipAsync(raw, { level: 1 });
  const info: ArchivedWalInfo = {
    name: fileName,
    size: raw.length,
    sha256,
    storedSize: stored.length,
    storedSha256: createHash('sha256').update(stored).digest('hex'),
    walEndTime: sourceStat.mtime.toISOString(),
    archivedAt: new Date().toISOString(),
  };
  const tmp = `.${process.pid}.tmp`;
  await writeDurably(sidecar + tmp, Buffer.from(JSON.stringify(info) + '\n'));
  await writeDurably(destination + tmp, stored);
  await rename(sidecar + tmp, sidecar);
  await rename(destination + tmp, destination);
  await syncDirectory(archiveDir);
  return 'archived';
}

async function readSidecar(path: string): Promise<ArchivedWalInfo | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as ArchivedWalInfo;
  } catch {
    return undefined;
  }
}

async function writeDurably(path: string, data: Buffer): Promise<void> {
  await rm(path, { force: true });
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    let written = 0;
    while (written < data.length) {
      written += (await handle.write(data, written, data.length - written)).bytesWritten;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [segmentPath, fileName, archiveDir] = argv;
  if (segmentPath === undefined || fileName === undefined || archiveDir === undefined) {
    process.stderr.write('usage: archive-wal <path %p> <file name %f> <archive dir>\n');
    return 2;
  }
  try {
    const outcome = await archiveWal(segmentPath, fileName, archiveDir);
    if (outcome === 'already-archived') {
      process.stderr.write(`archive-wal: ${fileName} was already archived with identical content\n`);
    }
    return 0;
  } catch (error) {
    process.stderr.write(
      `archive-wal: ${fileName}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
