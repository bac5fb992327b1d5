/**
 * A worker thread of the restore pool (chunk-workers.ts): decompresses a stored chunk, checks it and
 * writes it at its place in the target file, in one pass over the bytes, off the main thread. It also
 * hashes files already on disk for a delta restore. Imports nothing but Node built-ins.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { gunzipSync } from 'node:zlib';

export type ChunkJob =
  | {
      op: 'chunk';
      id: number;
      data: Uint8Array;
      rawLength: number;
      /** sha256 of the raw chunk (manifests with chunk digests). */
      sha256?: string;
      /** sha256 of the stored (compressed) chunk, checked before it is decompressed (newer manifests). */
      storedSha256?: string;
      /**
       * Delta restore: leave the target alone when it holds these bytes already, judged by the raw
       * chunk's sha256 before anything is decompressed ('hash': cheap when most chunks are unchanged), or
       * byte for byte against the decompressed chunk ('bytes': no hashing at all when most changed).
       */
      compare?: { by: 'hash'; sha256: string } | { by: 'bytes' };
      /** A whole-file digest being built (older manifests): chunks of one file come in order. */
      fileKey?: string;
      /** Absolute path to write to (restore); absent for verify. */
      target?: string;
      rawOffset: number;
    }
  | { op: 'finish'; id: number; fileKey: string }
  | {
      op: 'compare';
      id: number;
      path: string;
      /** [raw length, sha256] per chunk; or the whole file's sha256 when the manifest has no chunk digests. */
      chunks?: [number, string][];
      fileSha256?: string;
      size: number;
    };

export interface ChunkReply {
  id: number;
  error?: string;
  sha256?: string;
  size?: number;
  /** compare: indexes of the chunks that differ (all of them when the file is missing or wrong size). */
  differ?: number[];
  /** chunk with compare: the target held these bytes already; nothing was written. */
  same?: boolean;
}

/**
 * Restored files are written in PostgreSQL's page size, not a chunk at a time. The page cache (Linux
 * 6.16+ on ext4, XFS) holds a file in folios as large as the writes that filled it, and later writes out
 * a whole folio for each 8 KiB page PostgreSQL changes in it: a data directory written in 8 MiB pieces
 * made recovery's page writes cost twice the system time and replay 1.5× slower than pgBackRest's
 * (bench/RESULTS.md), against a few more write calls here.
 */
const WRITE_PIECE = 8192;

const files = new Map<string, { hash: Hash; size: number }>();

function handle(job: ChunkJob): ChunkReply {
  if (job.op === 'finish') {
    const f = files.get(job.fileKey);
    files.delete(job.fileKey);
    return { id: job.id, sha256: (f?.hash ?? createHash('sha256')).digest('hex'), size: f?.size ?? 0 };
  }
  if (job.op === 'compare') return compare(job);

  if (job.compare?.by === 'hash' && job.target !== undefined) {
    const old = readRange(job.target, job.rawOffset, job.rawLength);
    if (old && createHash('sha256').update(old).digest('hex') === job.compare.sha256) {
      return { id: job.id, same: true };
    }
  }
  if (
    job.storedSha256 !== undefined &&
    createHash('sha256').update(job.data).digest('hex') !== job.storedSha256
  ) {
    return { id: job.id, error: 'its stored bytes do not match their sha256 in the manifest' };
  }
  let raw: Buffer;
  try {
    raw = gunzipSync(job.data);
  } catch (error) {
    return { id: job.id, error: `does not decompress (${(error as Error).message})` };
  }
  if (raw.length !== job.rawLength) {
    return { id: job.id, error: `decompresses to ${raw.length} bytes, not ${job.rawLength}` };
  }
  if (job.sha256 !== undefined && createHash('sha256').update(raw).digest('hex') !== job.sha256) {
    return { id: job.id, error: 'its sha256 does not match the manifest' };
  }
  if (job.compare?.by === 'bytes' && job.target !== undefined) {
    if (readRange(job.target, job.rawOffset, job.rawLength)?.equals(raw)) return { id: job.id, same: true };
  }
  if (job.fileKey !== undefined) {
    let f = files.get(job.fileKey);
    if (!f) files.set(job.fileKey, (f = { hash: createHash('sha256'), size: 0 }));
    f.hash.update(raw);
    f.size += raw.length;
  }
  if (job.target !== undefined) {
    const fd = openSync(job.target, constants.O_WRONLY | constants.O_CREAT, 0o600);
    try {
      let done = 0;
      while (done < raw.length) {
        const piece = Math.min(WRITE_PIECE, raw.length - done);
        done += writeSync(fd, raw, done, piece, job.rawOffset + done);
      }
    } finally {
      closeSync(fd);
    }
  }
  return { id: job.id };
}

/** The bytes of `path` at [offset, offset + length); undefined when it is missing or shorter. */
function readRange(path: string, offset: number, length: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const buffer = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buffer, done, length - done, offset + done);
      if (n === 0) return undefined;
      done += n;
    }
    return buffer;
  } finally {
    closeSync(fd);
  }
}

function compare(job: Extract<ChunkJob, { op: 'compare' }>): ChunkReply {
  const all = (job.chunks ?? [[job.size, '']]).map((_, i) => i);
  let fd: number;
  try {
    fd = openSync(job.path, 'r');
  } catch {
    return { id: job.id, differ: all };
  }
  try {
    if (fstatSync(fd).size !== job.size) return { id: job.id, differ: all };
    const buffer = Buffer.allocUnsafe(Math.min(8 * 1024 * 1024, Math.max(job.size, 1)));
    const readRange = (position: number, length: number, hash: Hash) => {
      let done = 0;
      while (done < length) {
        const n = readSync(fd, buffer, 0, Math.min(buffer.length, length - done), position + done);
        if (n === 0) return false;
        hash.update(buffer.subarray(0, n));
        done += n;
      }
      return true;
    };
    if (!job.chunks) {
      const hash = createHash('sha256');
      const same = readRange(0, job.size, hash) && hash.digest('hex') === job.fileSha256;
      return { id: job.id, differ: same ? [] : all };
    }
    const differ: number[] = [];
    let position = 0;
    job.chunks.forEach(([length, sha256], i) => {
      const hash = createHash('sha256');
      if (!readRange(position, length, hash) || hash.digest('hex') !== sha256) differ.push(i);
      position += length;
    });
    return { id: job.id, differ };
  } finally {
    closeSync(fd);
  }
}

parentPort?.on('message', (job: ChunkJob) => {
  let reply: ChunkReply;
  try {
    reply = handle(job);
  } catch (error) {
    reply = { id: job.id, error: (error as Error).message };
  }
  parentPort!.postMessage(reply);
});
