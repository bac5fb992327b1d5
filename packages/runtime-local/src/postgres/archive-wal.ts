#!/usr/bin/env node
/**
 * PostgreSQL's `archive_command`: `node archive-wal.js %p %f <archiveDir>`.
 *
 * Copies the WAL segment to `<archiveDir>/<f>.partial`, fsyncs it, renames it to `<archiveDir>/<f>` and
 * fsyncs the directory, so an archived file is always complete. Never overwrites: when the destination
 * already exists with identical content (a retry after a crash between rename and PostgreSQL noting the
 * success) it succeeds; with different content it fails, and PostgreSQL keeps the segment and retries.
 * Exit code 0 tells PostgreSQL the segment is safe and may be recycled.
 *
 * It runs as the PostgreSQL OS user and imports nothing but Node built-ins.
 */
import { constants } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export type ArchiveOutcome = 'archived' | 'already-archived';

export async function archiveWal(
  segmentPath: string,
  fileName: string,
  archiveDir: string,
): Promise<ArchiveOutcome> {
  if (fileName.includes('/') || fileName === '' || fileName.startsWith('.')) {
    throw new Error(`invalid WAL file name ${JSON.stringify(fileName)}`);
  }
  const source = isAbsolute(segmentPath) ? segmentPath : resolve(segmentPath);
  const destination = join(archiveDir, fileName);
  if (await exists(destination)) {
    if (await sameContent(source, destination)) return 'already-archived';
    throw new Error(
      `${destination} already exists with different content: refusing to overwrite an archived WAL file; ` +
        'move it aside after checking which copy is right',
    );
  }
  const partial = `${destination}.partial`;
  await rm(partial, { force: true });
  const input = await open(source, constants.O_RDONLY);
  const output = await open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      let written = 0;
      while (written < bytesRead) {
        const result = await output.write(buffer, written, bytesRead - written);
        written += result.bytesWritten;
      }
    }
    await output.sync();
  } finally {
    await output.close();
    await input.close();
  }
  await rename(partial, destination);
  await syncDirectory(archiveDir);
  return 'archived';
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

async function sameContent(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  if (sa.size !== sb.size) return false;
  // WAL segments are 16 MiB by default: comparing them in memory is fine.
  const [ca, cb] = await Promise.all([readFile(a), readFile(b)]);
  return ca.equals(cb);
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
