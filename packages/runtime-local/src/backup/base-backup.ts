/**
 * (Over 400 lines: taking full and incremental backups share one copy loop, kept together.)
 * Online base backups with PostgreSQL's backup API (verification and restore: base-restore.ts).
 *
 * `pg_backup_start(label, fast)` on one admin session; the data directory's files are read while the
 * server runs (torn pages are repaired by WAL replay), cut into chunks, each chunk gzip-compressed on the
 * libuv threadpool (several at once) and appended to one pack object in the order the chunks finish;
 * every chunk is sha256-checksummed (so restore checks chunks in parallel) and every file is listed in the
 * manifest with its chunks' places in the pack and digests.
 * `pg_backup_stop()` returns the backup_label (and tablespace_map), kept in the manifest; the backup then
 * waits (polling) until the last WAL segment it needs is archived. The manifest is written last: a
 * backup without one is incomplete and is never restored.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { open, readdir, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import pg from 'pg';
import { PreconditionFailedError, UnavailableError } from '@msp/core';
import { eachLimit, limiter } from './concurrency.js';
import type { BackupRepository } from './repository.js';

const gzipAsync = promisify(gzip);

export const MANIFEST_FORMAT = 'msp-base-backup/1';

export interface BackupFileEntry {
  path: string;
  size: number;
  mode: number;
  /**
   * The file's digest: with `fileDigest: 'chunks'` in the manifest, the sha256 of its chunks' sha256 hex
   * digests concatenated in order (each chunk is then checked on its own, in parallel); in older
   * manifests the sha256 of the whole file.
   */
  sha256: string;
  /**
   * [offset in the pack, stored length, raw length, sha256 of the raw chunk (newer manifests), the id of
   * the base backup whose pack holds it (incrementals; absent, null in JSON: this backup's own pack),
   * sha256 of the stored (compressed) chunk (newer manifests)] per chunk. A restore checks the stored
   * bytes against the last digest and lets gunzip check its own CRC-32 and length of the content: the
   * same assurance as hashing the raw bytes, for a twelfth of the bytes hashed. Verify checks both.
   */
  chunks: [number, number, number, string?, string?, string?][];
  /** Modification time (ms) seen before the file was read: an incremental skips an unchanged file. */
  mtimeMs?: number;
}

export interface BaseBackupManifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  label: string;
  pgVersion: number;
  systemIdentifier: string;
  timeline: number;
  walSegmentSize: number;
  startLsn: string;
  stopLsn: string;
  startWal: string;
  stopWal: string;
  startTime: string;
  /** When the backup became consistent: the earliest time it can be recovered to. */
  stopTime: string;
  rawBytes: number;
  storedBytes: number;
  compression: { algorithm: 'gzip'; level: number; chunkBytes: number };
  /** 'chunks': every chunk carries its own sha256 and a file's sha256 is the digest of those. */
  fileDigest?: 'chunks';
  /**
   * An incremental backup: stores only chunks that changed since `parent`; unchanged ones point into the
   * packs of `references` (every backup whose pack it reads, the chain it needs).
   */
  incremental?: { parent: string; references: string[] };
  pack: string;
  directories: { path: string; mode: number }[];
  files: BackupFileEntry[];
  backupLabel: string;
  tablespaceMap: string;
}

export interface BaseBackupOptions {
  repository: BackupRepository;
  /** Unique id; objects go under `base/<id>/`. */
  id: string;
  label?: string;
  /** An admin (superuser) connection to the cluster. */
  connection: pg.ClientConfig;
  /** PGDATA of that cluster, readable by this process. */
  dataDir: string;
  /** gzip level (default 1: fast; backups are read far less often than written). */
  level?: number;
  /** Compression jobs in flight (default: cores + 1). */
  parallel?: number;
  chunkBytes?: number;
  /** How long the backup may wait for its last WAL segment to be archived (default 10 min). */
  archiveWaitMs?: number;
  /**
   * Checkpoint at once when the backup starts (default true): the backup starts in milliseconds instead
   * of after a spread checkpoint (up to checkpoint_completion_target × checkpoint_timeout, minutes).
   * Only a scheduled backup that should not add I/O bursts may pass false.
   */
  fastCheckpoint?: boolean;
  onProgress?: (p: { files: number; rawBytes: number; storedBytes: number }) => void;
  /**
   * Take an incremental backup on top of this (verified) base backup's manifest: a file whose size and
   * modification time match the parent's (and was last modified well before the parent started) is not
   * read at all; in other files only chunks whose sha256 differs are compressed and stored.
   */
  incrementalOf?: BaseBackupManifest;
}

export const manifestName = (id: string) => `base/${id}/manifest.json`;
export const packName = (id: string) => `base/${id}/data.pack`;

/** Directories whose contents a base backup leaves out (the directory itself is kept). */
const EMPTY_DIRS = new Set([
  'pg_wal',
  'pg_dynshmem',
  'pg_notify',
  'pg_replslot',
  'pg_serial',
  'pg_snapshots',
  'pg_stat_tmp',
  'pg_subtrans',
  // WAL segments prefetched for a recovery (fetch-wal's spool): transient, never part of a backup.
  'msp_wal_spool',
]);
/** Files never copied (PostgreSQL's own base backup skips the same). */
const SKIP_FILES = new Set([
  'postmaster.pid',
  'postmaster.opts',
  'backup_label',
  'backup_label.old',
  'tablespace_map',
  'backup_manifest',
  'current_logfiles',
  'recovery.signal',
  'standby.signal',
  'pg_internal.init',
]);

interface Walked {
  dirs: { path: string; mode: number }[];
  files: { path: string; mode: number; size: number; mtimeMs: number }[];
}

async function walkDataDir(dataDir: string): Promise<Walked> {
  const out: Walked = { dirs: [], files: [] };
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(rel ? join(dataDir, rel) : dataDir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // dropped database
      throw error;
    }
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (SKIP_FILES.has(e.name) || e.name.startsWith('pgsql_tmp')) continue;
      if (e.isSymbolicLink()) {
        if (rel === 'pg_tblspc') {
          throw new PreconditionFailedError(
            `The cluster uses a tablespace (${path}); MSP base backups support the data directory only: move the tablespace's objects to pg_default.`,
          );
        }
        if (path !== 'pg_wal') continue;
      }
      let s;
      try {
        s = await lstat(join(dataDir, path));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      if (e.isDirectory() || (path === 'pg_wal' && e.isSymbolicLink())) {
        out.dirs.push({ path, mode: s.mode & 0o7777 });
        if (EMPTY_DIRS.has(path)) {
          if (path === 'pg_wal') out.dirs.push({ path: 'pg_wal/archive_status', mode: 0o700 });
          continue;
        }
        await walk(path);
      } else if (e.isFile()) {
        out.files.push({ path, mode: s.mode & 0o7777, size: s.size, mtimeMs: s.mtimeMs });
      }
    }
  };
  await walk('');
  return out;
}

/**
 * An incremental trusts a file's unchanged size and mtime only when it was last written this long before
 * the parent started (timestamps are coarse; a write racing the parent's read must not look unchanged).
 */
const MTIME_MARGIN_MS = 5_000;

/** The backups whose packs these files' chunks point into. */
export function referencesOf(files: readonly BackupFileEntry[]): string[] {
  const refs = new Set<string>();
  for (const f of files) for (const c of f.chunks) if (c[4] !== undefined) refs.add(c[4]);
  return [...refs].sort();
}

/** Read size past a file's listed length (it grew while the backup ran). */
const TAIL_READ_BYTES = 64 * 1024;
const ARCHIVE_POLL_MS = 25;

/**
 * The backup history file pg_backup_stop writes: `<timeline of the stop><start segment>.<start offset>.backup`
 * (PostgreSQL's BackupHistoryFileName).
 */
export function backupHistoryFile(labelfile: string, stopWal: string, segmentSize: number): string {
  const location = /^START WAL LOCATION: ([0-9A-F]+)\/([0-9A-F]+) \(file ([0-9A-F]{24})\)/m.exec(labelfile);
  if (!location) throw new Error(`backup_label has no START WAL LOCATION: ${labelfile}`);
  const lsn = (BigInt(`0x${location[1]}`) << 32n) | BigInt(`0x${location[2]}`);
  const offset = Number(lsn % BigInt(segmentSize));
  const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${stopWal.slice(0, 8)}${location[3]!.slice(8)}.${hex8(offset)}.backup`;
}

/**
 * Waits until PostgreSQL has archived each of `files` the way pg_backup_stop does (XLogArchiveIsBusy):
 * archived when its `.done` status exists, or when neither `.ready` nor the file itself is left in pg_wal.
 */
async function waitForArchived(client: pg.Client, files: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // (A missing file gives a row of NULLs; `creation` is NULL on Linux, so test `size`, not the row.)
    const { rows } = await client.query<{ busy: string[] }>(
      `SELECT coalesce(array_agg(f), '{}') AS busy FROM unnest($1::text[]) AS f
        WHERE (pg_stat_file('pg_wal/archive_status/' || f || '.done', true)).size IS NULL
          AND ((pg_stat_file('pg_wal/archive_status/' || f || '.ready', true)).size IS NOT NULL
               OR (pg_stat_file('pg_wal/' || f, true)).size IS NOT NULL)`,
      [files],
    );
    const busy = rows[0]?.busy ?? [];
    if (busy.length === 0) return;
    if (Date.now() > deadline) {
      throw new UnavailableError(
        `The base backup is complete but WAL ${busy.join(', ')} was not archived within ${Math.round(timeoutMs / 1000)} s: ` +
          'archiving fails or lags; check pg_stat_archiver (failed_count, last_failed_wal) and the server log.',
      );
    }
    await new Promise((r) => setTimeout(r, ARCHIVE_POLL_MS));
  }
}

function lineOf(label: string, key: string): string | undefined {
  return new RegExp(`^${key}: (.*)$`, 'm').exec(label)?.[1];
}

/** Takes an online base backup into the repository and returns its manifest. */
export async function takeBaseBackup(options: BaseBackupOptions): Promise<BaseBackupManifest> {
  const { repository, id } = options;
  const level = options.level ?? 1;
  const chunkBytes = options.chunkBytes ?? 8 * 1024 * 1024;
  const parallel = options.parallel ?? availableParallelism() + 1;
  const label = options.label ?? `msp ${id}`;
  // A retry after a crash starts over: whatever an earlier attempt left under this id goes.
  await repository.deletePrefix(`base/${id}/`);

  const client = new pg.Client({ ...options.connection, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (cause) {
    throw new UnavailableError(
      `Cannot connect to PostgreSQL for a base backup: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  const writer = await repository.createWriter(packName(id));
  let committed = false;
  try {
    const info = (
      await client.query<{ version: string; sysid: string; segsize: string }>(
        `SELECT current_setting('server_version_num') AS version,
                (SELECT system_identifier::text FROM pg_control_system()) AS sysid,
                (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size') AS segsize`,
      )
    ).rows[0]!;
    await client.query(`SET statement_timeout = ${options.archiveWaitMs ?? 600_000}`);
    const start = (
      await client.query<{ lsn: string; wal: string; at: Date }>(
        `SELECT lsn::text, pg_walfile_name(lsn) AS wal, clock_timestamp() AS at
           FROM pg_backup_start($1, fast => $2) AS lsn`,
        [label, options.fastCheckpoint ?? true],
      )
    ).rows[0]!;

    const walked = await walkDataDir(options.dataDir);
    const slots = limiter(parallel);
    let packOffset = 0;
    let rawBytes = 0;
    let storedBytes = 0;
    let done = 0;
    const files: BackupFileEntry[] = [];
    const parent = options.incrementalOf;
    const parentFiles = new Map((parent?.files ?? []).map((f) => [f.path, f]));
    const parentStart = parent ? Date.parse(parent.startTime) : 0;
    // A file's own chunks point into the parent's pack unless the parent already pointed further back.
    const inherit = (c: BackupFileEntry['chunks'][number]): BackupFileEntry['chunks'][number] =>
      c[5] === undefined
        ? [c[0], c[1], c[2], c[3] ?? '', c[4] ?? parent!.id]
        : [c[0], c[1], c[2], c[3] ?? '', c[4] ?? parent!.id, c[5]];
    const copyFile = async (f: { path: string; mode: number; size: number; mtimeMs: number }) => {
      const before = parent && parent.fileDigest === 'chunks' ? parentFiles.get(f.path) : undefined;
      if (
        before &&
        before.mtimeMs !== undefined &&
        before.size === f.size &&
        before.mtimeMs === f.mtimeMs &&
        f.mtimeMs < parentStart - MTIME_MARGIN_MS
      ) {
        // Unchanged since well before the parent started (a write since would have moved the time on).
        files.push({ ...before, mode: f.mode, chunks: before.chunks.map(inherit) });
        rawBytes += f.size;
        done++;
        return;
      }
      let handle;
      try {
        handle = await open(join(options.dataDir, f.path), 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // removed meanwhile: WAL replays it
        throw error;
      }
      const hash = createHash('sha256');
      const chunks: BackupFileEntry['chunks'] = [];
      const pending: Promise<void>[] = [];
      let size = 0;
      try {
        // Most of a data directory is small files: a buffer of the file's size, not a whole chunk, for
        // each (an 8 MiB allocation per 8 KiB file made copying 1,300 files take seconds). A file that
        // grew since it was listed is read on in small chunks until its end.
        const known = (await handle.stat()).size;
        for (;;) {
          await slots.acquire();
          const want = Math.min(chunkBytes, Math.max(known - size, TAIL_READ_BYTES));
          const buffer = Buffer.allocUnsafe(want);
          let n = 0;
          try {
            while (n < want) {
              const { bytesRead } = await handle.read(buffer, n, want - n, size + n);
              if (bytesRead === 0) break;
              n += bytesRead;
            }
          } catch (error) {
            slots.release();
            throw error;
          }
          if (n === 0 && chunks.length > 0) {
            slots.release();
            break;
          }
          const data = buffer.subarray(0, n);
          const digest = createHash('sha256').update(data).digest('hex');
          hash.update(digest);
          const index = chunks.length;
          const old = before?.chunks[index];
          if (old && old[2] === n && old[3] === digest) {
            // The same bytes are stored already: point at them.
            chunks.push(inherit(old));
            size += n;
            slots.release();
            if (n < want) break;
            continue;
          }
          chunks.push([0, 0, n, digest]);
          size += n;
          pending.push(
            gzipAsync(data, { level })
              .then(async (stored) => {
                const offset = packOffset;
                packOffset += stored.length;
                const storedDigest = createHash('sha256').update(stored).digest('hex');
                chunks[index] = [offset, stored.length, n, digest, undefined, storedDigest];
                storedBytes += stored.length;
                await writer.write(stored, offset);
              })
              .finally(() => slots.release()),
          );
          if (n < want) break;
        }
        await Promise.all(pending);
      } finally {
        await Promise.allSettled(pending);
        await handle.close();
      }
      rawBytes += size;
      files.push({
        path: f.path,
        size,
        mode: f.mode,
        sha256: hash.digest('hex'),
        chunks,
        mtimeMs: f.mtimeMs,
      });
      done++;
      if (done % 200 === 0) options.onProgress?.({ files: done, rawBytes, storedBytes });
    };
    // Largest first: the big relation files start early and spread over the compression slots.
    const ordered = [...walked.files].sort((a, b) => b.size - a.size);
    await eachLimit(ordered, parallel + 2, copyFile);
    await writer.commit();
    committed = true;

    // pg_backup_stop(wait_for_archive => true) checks the archive once a second: most of a small
    // backup's time. It returns at once here and the wait is ours, polled every few milliseconds.
    const stop = (
      await client.query<{ lsn: string; labelfile: string; spcmapfile: string; wal: string; at: Date }>(
        `SELECT lsn::text, labelfile, spcmapfile, pg_walfile_name(lsn) AS wal, clock_timestamp() AS at
           FROM pg_backup_stop(wait_for_archive => false)`,
      )
    ).rows[0]!;
    await waitForArchived(
      client,
      [stop.wal, backupHistoryFile(stop.labelfile, stop.wal, Number(info.segsize))],
      options.archiveWaitMs ?? 600_000,
    );
    options.onProgress?.({ files: done, rawBytes, storedBytes });
    const manifest: BaseBackupManifest = {
      format: MANIFEST_FORMAT,
      id,
      label,
      pgVersion: Number(info.version),
      systemIdentifier: info.sysid,
      timeline: Number(lineOf(stop.labelfile, 'START TIMELINE') ?? 1),
      walSegmentSize: Number(info.segsize),
      startLsn: start.lsn,
      stopLsn: stop.lsn,
      startWal: /\(file ([0-9A-F]{24})\)/.exec(stop.labelfile)?.[1] ?? start.wal,
      stopWal: stop.wal,
      startTime: start.at.toISOString(),
      stopTime: stop.at.toISOString(),
      rawBytes,
      storedBytes,
      compression: { algorithm: 'gzip', level, chunkBytes },
      fileDigest: 'chunks',
      ...(parent ? { incremental: { parent: parent.id, references: referencesOf(files) } } : {}),
      pack: packName(id),
      directories: walked.dirs,
      files: files.sort((a, b) => a.path.localeCompare(b.path)),
      backupLabel: stop.labelfile,
      tablespaceMap: stop.spcmapfile ?? '',
    };
    await repository.put(`base/${id}/backup_label`, stop.labelfile);
    await repository.put(manifestName(id), JSON.stringify(manifest));
    return manifest;
  } catch (error) {
    if (!committed) await writer.abort();
    throw error;
  } finally {
    // Ending the session also ends a backup still in progress (non-exclusive backups die with it).
    await client.end().catch(() => undefined);
  }
}
