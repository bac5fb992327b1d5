#!/usr/bin/env node
/**
 * PostgreSQL's `restore_command` for MSP restores: `node fetch-wal.js %f %p <archiveDir>`.
 *
 * Reads `<archiveDir>/<f>.gz`, checks it against its sidecar (sha256 of the stored and of the raw bytes),
 * decompresses it to %p. A file that is not in the archive exits 1: PostgreSQL takes that as the end of
 * the archive. A corrupt file (or one without its sidecar) exits 128, which PostgreSQL treats as a hard
 * failure and aborts recovery: a restore never silently stops short at a damaged segment.
 *
 * Runs as the PostgreSQL OS user; imports nothing but Node built-ins.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

const gunzipAsync = promisify(gunzip);

export class CorruptWalError extends Error {}

/** The raw content of an archived WAL file, verified; undefined when the archive does not hold it. */
export async function readArchivedWal(archiveDir: string, name: string): Promise<Buffer | undefined> {
  if (!/^[0-9A-Za-z._-]+$/.test(name) || name.startsWith('.')) {
    throw new CorruptWalError(`invalid WAL file name ${JSON.stringify(name)}`);
  }
  let stored: Buffer;
  try {
    stored = await readFile(join(archiveDir, `${name}.gz`));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let info: { size: number; sha256: string; storedSha256: string };
  try {
    info = JSON.parse(await readFile(join(archiveDir, `${name}.gz.json`), 'utf8')) as typeof info;
  } catch (cause) {
    throw new CorruptWalError(`${name}.gz: its checksum file ${name}.gz.json is missing or unreadable`, {
      cause,
    });
  }
  if (createHash('sha256').update(stored).digest('hex') !== info.storedSha256) {
    throw new CorruptWalError(`${name}.gz is corrupt: its sha256 does not match ${name}.gz.json`);
  }
  let raw: Buffer;
  try {
    raw = await gunzipAsync(stored);
  } catch (cause) {
    throw new CorruptWalError(`${name}.gz is corrupt: ${(cause as Error).message}`, { cause });
  }
  if (raw.length !== info.size || createHash('sha256').update(raw).digest('hex') !== info.sha256) {
    throw new CorruptWalError(`${name}.gz is corrupt: the decompressed content does not match its checksum`);
  }
  return raw;
}

async function main(argv: string[]): Promise<number> {
  const [fileName, targetPath, archiveDir] = argv;
  if (fileName === undefined || targetPath === undefined || archiveDir === undefined) {
    process.stderr.write('usage: fetch-wal <file name %f> <path %p> <archive dir>\n');
    return 2;
  }
  try {
    const raw = await readArchivedWal(archiveDir, fileName);
    if (!raw) return 1;
    const target = resolve(targetPath);
    await writeFile(`${target}.msp-fetch`, raw, { mode: 0o600 });
    await rename(`${target}.msp-fetch`, target);
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
