/**
 * (Over 400 lines: restore, verify and delta restore share one read-back pipeline, kept together.)
 * Reading a base backup back: the manifest, verification (every chunk decompressed, every chunk's or
 * file's sha256 checked) and restore into a data directory (written in place by worker threads, checked
 * the same way, one pass over each byte), also as a delta restore over an existing data directory.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { chown, lchown, mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError, PreconditionFailedError } from '@msp/core';
import {
  MANIFEST_FORMAT,
  manifestName,
  packName,
  type BackupFileEntry,
  type BaseBackupManifest,
} from './base-backup.js';
import type { ChunkReply } from './chunk-worker.js';
import { startChunkWorkers, type ChunkWorkers } from './chunk-workers.js';
import { eachLimit, limiter } from './concurrency.js';
import type { BackupRepository } from './repository.js';

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
  // A chunk in the backup's own pack with a stored digest has null (JSON's undefined) as its pack.
  for (const f of manifest.files) for (const c of f.chunks) if (c[4] === null) c[4] = undefined;
  return manifest;
}

interface ReadBackOptions {
  /** Write verified data under this directory (restore); absent for verify. */
  targetDir?: string;
  stopAtFirst: boolean;
  /** Delta restore: per file path, the indexes of the chunks to restore (files absent: none). */
  only?: Map<string, number[]>;
  /**
   * Delta restore in one pass (manifests with chunk digests): every chunk is compared with the bytes at
   * its place in the target and written only when they differ; counted here. `touched` names the files
   * already changed (created or cut to size), which are flushed whatever their chunks did;
   * `changedSinceBackup` those modified after the backup started, compared byte for byte.
   */
  delta?: { summary: DeltaSummary; touched: Set<string>; changedSinceBackup: Set<string> };
  /** Stored chunks read ahead of the workers. */
  parallel: number;
}

type Problem = { file: string; problem: string };

/**
 * Reads every (selected) chunk from the pack and has the worker pool decompress it, check it and write
 * it: one pass over each byte, spread over the cores. With chunk digests in the manifest every chunk is
 * its own job; older manifests hash whole files, so a file's chunks go to one worker in order.
 */
async function readBack(
  repository: BackupRepository,
  manifest: BaseBackupManifest,
  workers: ChunkWorkers,
  o: ReadBackOptions,
): Promise<Problem[]> {
  const problems: Problem[] = [];
  const failed = new Set<string>();
  const note = (file: string, problem: string) => {
    if (failed.has(file)) return;
    failed.add(file);
    problems.push({ file, problem });
  };
  const packInfo = await repository.stat(manifest.pack);
  if (!packInfo) return [{ file: manifest.pack, problem: 'the pack object is missing' }];
  // An incremental reads the packs of its chain: each must be there (every chunk is checked below).
  for (const ref of manifest.incremental?.references ?? []) {
    if (!(await repository.stat(packName(ref)))) {
      note(
        packName(ref),
        `the pack of base backup ${ref} is missing, and incremental backup ${manifest.id} reads from it`,
      );
    }
  }
  if (problems.length > 0) return problems;
  const where = (f: BackupFileEntry, i: number) => {
    const ref = f.chunks[i]?.[4];
    return ref === undefined ? `chunk ${i + 1}` : `chunk ${i + 1} (stored in base backup ${ref})`;
  };
  const chunked = manifest.fileDigest === 'chunks';
  const targetOf = (f: BackupFileEntry) => (o.targetDir ? join(o.targetDir, f.path) : undefined);
  const readChunk = async (f: BackupFileEntry, i: number): Promise<Buffer> => {
    const [offset, length, , , ref] = f.chunks[i]!;
    const stored = await repository.read(ref === undefined ? manifest.pack : packName(ref), offset, length);
    if (stored.length !== length) throw new Error('truncated');
    return stored;
  };
  const offsetsOf = (f: BackupFileEntry) => {
    const out: number[] = [];
    let at = 0;
    for (const c of f.chunks) {
      out.push(at);
      at += c[2];
    }
    return out;
  };

  type Task = { file: BackupFileEntry; index: number; chunk?: number; offsets: number[] };
  const tasks: Task[] = [];
  manifest.files.forEach((file, index) => {
    const selected = o.only ? o.only.get(file.path) : file.chunks.map((_, i) => i);
    if (!selected || selected.length === 0) return;
    const offsets = offsetsOf(file);
    if (!chunked) {
      tasks.push({ file, index, offsets });
      return;
    }
    const digest = createHash('sha256');
    let size = 0;
    for (const c of file.chunks) {
      digest.update(c[3] ?? '');
      size += c[2];
    }
    if (size !== file.size || digest.digest('hex') !== file.sha256) {
      note(file.path, 'its chunk list does not match its size and sha256 in the manifest');
      return;
    }
    for (const chunk of selected) tasks.push({ file, index, chunk, offsets });
  });

  const runChunked = async (t: Task & { chunk: number }) => {
    const [, , rawLength, sha256, , storedSha256] = t.file.chunks[t.chunk]!;
    // A file written since the backup most likely differs in most chunks: compare those byte for byte
    // after decompressing (no hash at all); other files by the raw digest first (no decompression).
    const compare = !o.delta
      ? undefined
      : o.delta.changedSinceBackup.has(t.file.path)
        ? ({ by: 'bytes' } as const)
        : ({ by: 'hash', sha256: sha256 ?? '' } as const);
    let data: Buffer;
    try {
      data = await readChunk(t.file, t.chunk);
    } catch (error) {
      note(t.file.path, `${where(t.file, t.chunk)} cannot be read (${(error as Error).message})`);
      return;
    }
    const reply = await workers.run({
      op: 'chunk',
      data,
      rawLength,
      // A restore checks the stored bytes where the manifest has their digest (see BackupFileEntry);
      // verify checks the raw bytes too.
      ...(storedSha256 !== undefined ? { storedSha256 } : {}),
      ...(storedSha256 === undefined || !o.targetDir ? { sha256 } : {}),
      ...(compare ? { compare } : {}),
      target: targetOf(t.file),
      rawOffset: t.offsets[t.chunk]!,
    });
    if (reply.error) note(t.file.path, `${where(t.file, t.chunk)} ${reply.error}`);
    else if (o.delta && !reply.same) {
      o.delta.touched.add(t.file.path);
      o.delta.summary.chunksRewritten++;
      o.delta.summary.bytesRewritten += rawLength;
    }
  };

  const runWholeFile = async (t: Task) => {
    const f = t.file;
    const worker = t.index % workers.size;
    const key = `${t.index}`;
    const replies: Promise<ChunkReply>[] = [];
    let problem: string | undefined;
    for (let i = 0; i < f.chunks.length && problem === undefined; i++) {
      if (replies.length >= 2) {
        const r = await replies[replies.length - 2]!;
        if (r.error) problem = `chunk ${replies.length - 1} ${r.error}`;
      }
      let data: Buffer;
      try {
        data = await readChunk(f, i);
      } catch (error) {
        problem = `chunk ${i + 1} cannot be read (${(error as Error).message})`;
        break;
      }
      replies.push(
        workers.run(
          {
            op: 'chunk',
            data,
            rawLength: f.chunks[i]![2],
            fileKey: key,
            target: targetOf(f),
            rawOffset: t.offsets[i]!,
          },
          worker,
        ),
      );
    }
    const all = await Promise.all(replies);
    const finish = await workers.run({ op: 'finish', fileKey: key }, worker);
    const bad = all.findIndex((r) => r.error);
    problem ??= bad >= 0 ? `chunk ${bad + 1} ${all[bad]!.error}` : undefined;
    if (problem === undefined && (finish.size !== f.size || finish.sha256 !== f.sha256)) {
      problem = 'its sha256 does not match the manifest';
    }
    if (problem !== undefined) note(f.path, problem);
  };

  // A restored file is fsynced as soon as its last chunk is written (on the libuv threadpool, beside the
  // workers), so the flush to disk overlaps the decompression of the rest.
  const left = new Map<BackupFileEntry, number>();
  for (const t of tasks) left.set(t.file, (left.get(t.file) ?? 0) + 1);
  const syncs: Promise<void>[] = [];
  const syncSlots = limiter(4);
  const syncFile = async (path: string) => {
    await syncSlots.acquire();
    try {
      const h = await open(path, 'r');
      try {
        await h.sync();
      } finally {
        await h.close();
      }
    } finally {
      syncSlots.release();
    }
  };
  await eachLimit(tasks, o.parallel, async (t) => {
    if (o.stopAtFirst && problems.length > 0) return;
    if (t.chunk !== undefined) await runChunked(t as Task & { chunk: number });
    else await runWholeFile(t);
    const n = left.get(t.file)! - 1;
    left.set(t.file, n);
    const target = targetOf(t.file);
    if (n === 0 && target && !failed.has(t.file.path) && (!o.delta || o.delta.touched.has(t.file.path))) {
      syncs.push(syncFile(target));
    }
  });
  await Promise.all(syncs);
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
  parallel = availableParallelism() * 2,
): Promise<VerifyResult> {
  let manifest: BaseBackupManifest;
  try {
    manifest = await readManifest(repository, id);
  } catch (error) {
    return { ok: false, files: 0, problems: [{ file: manifestName(id), problem: (error as Error).message }] };
  }
  const workers = startChunkWorkers();
  try {
    const problems = await readBack(repository, manifest, workers, { parallel, stopAtFirst: false });
    return { ok: problems.length === 0, files: manifest.files.length, problems };
  } finally {
    await workers.close();
  }
}

export interface RestoreBaseBackupOptions {
  repository: BackupRepository;
  id: string;
  /** Created (emptied first): becomes a data directory with backup_label. */
  targetDir: string;
  /** Owner of the restored files (the PostgreSQL OS user when running as root). */
  owner?: { uid: number; gid: number };
  /** Stored chunks read ahead of the worker threads (default 2 per core). */
  parallel?: number;
  /**
   * Delta restore (like pgBackRest's `--delta`): keep `targetDir` and rewrite only what differs from the
   * backup: a file of another size entirely, otherwise only the chunks whose sha256 differs (whole files
   * for manifests without chunk digests); files and directories the backup does not have are removed.
   */
  delta?: boolean;
  /** Called with what a delta restore rewrote. */
  onDelta?: (d: DeltaSummary) => void;
}

export interface DeltaSummary {
  filesChecked: number;
  filesRewritten: number;
  chunksRewritten: number;
  bytesRewritten: number;
  removed: number;
}

/** Restores a base backup into `targetDir`, verifying every file; throws naming a corrupt file. */
export async function restoreBaseBackup(options: RestoreBaseBackupOptions): Promise<BaseBackupManifest> {
  const { repository, id, targetDir, owner } = options;
  const manifest = await readManifest(repository, id);
  const delta = options.delta === true && (await isDirectory(targetDir));
  const workers = startChunkWorkers();
  let problems: Problem[];
  const summary: DeltaSummary = {
    filesChecked: 0,
    filesRewritten: 0,
    chunksRewritten: 0,
    bytesRewritten: 0,
    removed: 0,
  };
  // With chunk digests a delta restore compares and rewrites each chunk in one pass (reading the target
  // overlaps decompressing what differs); older manifests compare whole files first, then restore.
  const onePass =
    delta && manifest.fileDigest === 'chunks'
      ? { summary, touched: new Set<string>(), changedSinceBackup: new Set<string>() }
      : undefined;
  try {
    let only: Map<string, number[]> | undefined;
    if (delta) {
      summary.removed = await removeExtraneous(targetDir, manifest);
      if (!onePass) {
        only = await changedChunks(targetDir, manifest, workers, summary);
        options.onDelta?.(summary);
      }
    } else {
      await rm(targetDir, { recursive: true, force: true });
    }
    await mkdir(targetDir, { recursive: true, mode: 0o700 });
    for (const d of manifest.directories) {
      await mkdir(join(targetDir, d.path), { recursive: true, mode: 0o700 });
    }
    for (const f of manifest.files) {
      if (onePass) {
        const path = join(targetDir, f.path);
        const { size, mtimeMs } = await stat(path).then(
          (s) => (s.isFile() ? s : { size: -1, mtimeMs: 0 }),
          () => ({ size: -1, mtimeMs: 0 }),
        );
        if (mtimeMs >= Date.parse(manifest.startTime)) onePass.changedSinceBackup.add(f.path);
        if (size !== f.size) {
          if (size === -1) await rm(path, { recursive: true, force: true });
          const h = await open(path, 'a', 0o600);
          await h.truncate(f.size);
          await h.close();
          onePass.touched.add(f.path);
        }
      } else if (f.size === 0 || (only?.get(f.path)?.length ?? 0) > 0) {
        // Created empty (delta: cut to size); the workers write the chunks at their offsets.
        const h = await open(join(targetDir, f.path), delta ? 'a' : 'w', 0o600);
        await h.truncate(delta ? f.size : 0);
        await h.close();
      }
    }
    problems = await readBack(repository, manifest, workers, {
      targetDir,
      stopAtFirst: true,
      ...(only ? { only } : {}),
      ...(onePass ? { delta: onePass } : {}),
      parallel: options.parallel ?? availableParallelism() * 2,
    });
    if (onePass) {
      summary.filesChecked = manifest.files.length;
      summary.filesRewritten = onePass.touched.size;
      options.onDelta?.(summary);
    }
  } finally {
    await workers.close();
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

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Delta: removes every file and directory under `dir` that the backup does not list. */
async function removeExtraneous(dir: string, manifest: BaseBackupManifest): Promise<number> {
  const files = new Set(manifest.files.map((f) => f.path));
  const dirs = new Set(manifest.directories.map((d) => d.path));
  let removed = 0;
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(rel ? join(dir, rel) : dir, { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory() && dirs.has(path)) await walk(path);
      else if (!(e.isFile() && files.has(path))) {
        await rm(join(dir, path), { recursive: true, force: true });
        removed++;
      }
    }
  };
  await walk('');
  return removed;
}

/** Delta: which chunks of which files differ from the backup (size first, then sha256), per file path. */
async function changedChunks(
  dir: string,
  manifest: BaseBackupManifest,
  workers: ChunkWorkers,
  summary: DeltaSummary,
): Promise<Map<string, number[]>> {
  const only = new Map<string, number[]>();
  const chunked = manifest.fileDigest === 'chunks';
  await eachLimit(manifest.files, workers.size * 2, async (f) => {
    const reply = await workers.run({
      op: 'compare',
      path: join(dir, f.path),
      size: f.size,
      ...(chunked
        ? { chunks: f.chunks.map(([, , raw, sha256]) => [raw, sha256 ?? ''] as [number, string]) }
        : { fileSha256: f.sha256 }),
    });
    const differ = reply.error
      ? f.chunks.map((_, i) => i)
      : chunked
        ? reply.differ!
        : reply.differ!.length
          ? f.chunks.map((_, i) => i)
          : [];
    summary.filesChecked++;
    if (differ.length > 0 || reply.error) {
      only.set(f.path, differ);
      summary.filesRewritten++;
      summary.chunksRewritten += differ.length;
      for (const i of differ) summary.bytesRewritten += f.chunks[i]![2];
    }
  });
  return only;
}

export async function chownTree(path: string, owner: { uid: number; gid: number }): Promise<void> {
  await chown(path, owner.uid, owner.gid);
  for (const e of await readdir(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) await chownTree(p, owner);
    else await lchown(p, owner.uid, owner.gid);
  }
}
