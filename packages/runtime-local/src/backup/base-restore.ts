/**
 * Reading a base backup back: the manifest, verification (every chunk decompressed, every file's
 * sha256 checked) and restore into a data directory (files written in place, checked the same way).
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { chown, lchown, mkdir, open, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { NotFoundError, PreconditionFailedError } from '@msp/core';
import {
  MANIFEST_FORMAT,
  manifestName,
  type BackupFileEntry,
  type BaseBackupManifest,
} from './base-backup.js';
import { eachLimit, limiter } from './concurrency.js';
import type { BackupRepository } from './repository.js';

const gunzipAsync = promisify(gunzip);

export class CorruptBackupError extends PreconditionFailedError {}

export async function readManifest(repository: BackupRepository, id: string): Promise<BaseBackupManifest> {
  let text: Buffer;
  try {
    text = await repository.get(manifestName(id));
  } catch (cause) {
    throw new NotFoundError(
      `Base backup ${id} has no manifest in ${repository.location}: it is incomplete or was deleted; choose another backup.`,
      { cause },
    );
  }
  const manifest = JSON.parse(text.toString('utf8')) as BaseBackupManifest;
  if (manifest.format !== MANIFEST_FORMAT || manifest.id !== id) {
    throw new CorruptBackupError(`The manifest of base backup ${id} is not an MSP base backup manifest.`);
  }
  return manifest;
}

/**
 * Reads every chunk of every file, decompresses it and checks each file's sha256. `sink` receives the
 * verified data (restore writes it; verify discards it). Problems are collected per file.
 */
async function readBack(
  repository: BackupRepository,
  manifest: BaseBackupManifest,
  parallel: number,
  sink:
    | {
        write(file: BackupFileEntry, rawOffset: number, data: Buffer): Promise<void>;
        close(file: BackupFileEntry): Promise<void>;
      }
    | undefined,
  stopAtFirst: boolean,
): Promise<{ file: string; problem: string }[]> {
  const problems: { file: string; problem: string }[] = [];
  const slots = limiter(parallel);
  const packInfo = await repository.stat(manifest.pack);
  if (!packInfo) return [{ file: manifest.pack, problem: 'the pack object is missing' }];
  const check = async (f: BackupFileEntry) => {
    if (stopAtFirst && problems.length > 0) return;
    const hash = createHash('sha256');
    const jobs: Promise<Buffer>[] = [];
    let rawOffset = 0;
    const offsets: number[] = [];
    for (const [offset, length] of f.chunks) {
      offsets.push(rawOffset);
      rawOffset += f.chunks[offsets.length - 1]![2];
      await slots.acquire();
      jobs.push(
        repository
          .read(manifest.pack, offset, length)
          .then((stored) =>
            stored.length === length ? gunzipAsync(stored) : Promise.reject(new Error('truncated')),
          )
          .finally(() => slots.release()),
      );
    }
    let problem: string | undefined;
    let size = 0;
    for (let i = 0; i < jobs.length; i++) {
      try {
        const data = await jobs[i]!;
        hash.update(data);
        size += data.length;
        if (sink && problem === undefined) await sink.write(f, offsets[i]!, data);
      } catch (error) {
        problem ??= `chunk ${i + 1} does not decompress (${(error as Error).message})`;
      }
    }
    await sink?.close(f);
    if (problem === undefined && (size !== f.size || hash.digest('hex') !== f.sha256)) {
      problem = 'its sha256 does not match the manifest';
    }
    if (problem !== undefined) problems.push({ file: f.path, problem });
  };
  await eachLimit(manifest.files, parallel + 2, check);
  return problems;
}

export interface VerifyResult {
  ok: boolean;
  files: number;
  problems: { file: string; problem: string }[];
}

/** Decompresses and checksums every file of a base backup. */
export async function verifyBaseBackup(
  repository: BackupRepository,
  id: string,
  parallel = availableParallelism() + 1,
): Promise<VerifyResult> {
  let manifest: BaseBackupManifest;
  try {
    manifest = await readManifest(repository, id);
  } catch (error) {
    return { ok: false, files: 0, problems: [{ file: manifestName(id), problem: (error as Error).message }] };
  }
  const problems = await readBack(repository, manifest, parallel, undefined, false);
  return { ok: problems.length === 0, files: manifest.files.length, problems };
}

export interface RestoreBaseBackupOptions {
  repository: BackupRepository;
  id: string;
  /** Created (emptied first): becomes a data directory with backup_label. */
  targetDir: string;
  /** Owner of the restored files (the PostgreSQL OS user when running as root). */
  owner?: { uid: number; gid: number };
  parallel?: number;
}

/** Restores a base backup into `targetDir`, verifying every file; throws naming a corrupt file. */
export async function restoreBaseBackup(options: RestoreBaseBackupOptions): Promise<BaseBackupManifest> {
  const { repository, id, targetDir, owner } = options;
  const manifest = await readManifest(repository, id);
  await rm(targetDir, { recursive: true, force: true });
  await mkdir(targetDir, { recursive: true, mode: 0o700 });
  for (const d of manifest.directories) {
    await mkdir(join(targetDir, d.path), { recursive: true, mode: 0o700 });
  }
  const handles = new Map<string, Awaited<ReturnType<typeof open>>>();
  const handleOf = async (f: BackupFileEntry) => {
    let h = handles.get(f.path);
    if (!h) {
      h = await open(join(targetDir, f.path), 'w', 0o600);
      handles.set(f.path, h);
    }
    return h;
  };
  let problems;
  try {
    for (const f of manifest.files)
      if (f.size === 0) await writeFile(join(targetDir, f.path), '', { mode: 0o600 });
    problems = await readBack(
      repository,
      manifest,
      options.parallel ?? availableParallelism() + 1,
      {
        async write(f, rawOffset, data) {
          const h = await handleOf(f);
          let done = 0;
          while (done < data.length) {
            done += (await h.write(data, done, data.length - done, rawOffset + done)).bytesWritten;
          }
        },
        async close(f) {
          const h = handles.get(f.path);
          handles.delete(f.path);
          await h?.close();
        },
      },
      true,
    );
  } finally {
    await Promise.all([...handles.values()].map((h) => h.close()));
  }
  if (problems.length > 0) {
    const p = problems[0]!;
    throw new CorruptBackupError(
      `Base backup ${id} is corrupt: file ${p.file}: ${p.problem}. It was not restored; restore another backup (\`msp backup list\`).`,
      { details: { backup: id, file: p.file } },
    );
  }
  await writeFile(join(targetDir, 'backup_label'), manifest.backupLabel, { mode: 0o600 });
  if (manifest.tablespaceMap) {
    await writeFile(join(targetDir, 'tablespace_map'), manifest.tablespaceMap, { mode: 0o600 });
  }
  if (owner) await chownTree(targetDir, owner);
  return manifest;
}

export async function chownTree(path: string, owner: { uid: number; gid: number }): Promise<void> {
  await chown(path, owner.uid, owner.gid);
  for (const e of await readdir(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) await chownTree(p, owner);
    else await lchown(p, owner.uid, owner.gid);
  }
}
