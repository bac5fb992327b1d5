/** A pool of worker threads (chunk-worker.ts) that decompress, check and write backup chunks. */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ChunkJob, ChunkReply } from './chunk-worker.js';

type JobInput = ChunkJob extends infer J ? (J extends ChunkJob ? Omit<J, 'id'> : never) : never;

export interface ChunkWorkers {
  readonly size: number;
  /** Runs a job on `worker` (jobs on one worker run in order) or on the least busy one. */
  run(job: JobInput, worker?: number): Promise<ChunkReply>;
  close(): Promise<void>;
}

export function startChunkWorkers(size = availableParallelism()): ChunkWorkers {
  const workers: { worker: Worker; pending: Map<number, (r: ChunkReply) => void> }[] = [];
  let nextId = 1;
  let failure: Error | undefined;
  for (let i = 0; i < Math.max(1, size); i++) {
    const worker = new Worker(new URL('./chunk-worker.js', import.meta.url));
    const pending = new Map<number, (r: ChunkReply) => void>();
    worker.on('message', (reply: ChunkReply) => {
      const done = pending.get(reply.id);
      pending.delete(reply.id);
      done?.(reply);
    });
    const fail = (error: Error) => {
      failure ??= error;
      for (const [id, done] of pending) done({ id, error: `a restore worker failed: ${error.message}` });
      pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (pending.size > 0) fail(new Error(`it exited with code ${code}`));
    });
    workers.push({ worker, pending });
  }
  return {
    size: workers.length,
    run(job, index) {
      if (failure) return Promise.resolve({ id: 0, error: `a restore worker failed: ${failure.message}` });
      const w =
        index !== undefined
          ? workers[index % workers.length]!
          : workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
      const id = nextId++;
      const full: ChunkJob = { ...job, id };
      // A chunk that owns its whole ArrayBuffer moves to the worker without a copy (never a pooled one).
      const buffer = full.op === 'chunk' ? full.data.buffer : undefined;
      const transfer =
        full.op === 'chunk' &&
        buffer instanceof ArrayBuffer &&
        full.data.byteOffset === 0 &&
        full.data.byteLength === buffer.byteLength &&
        full.data.byteLength > 4096
          ? [buffer]
          : [];
      return new Promise((resolve) => {
        w.pending.set(id, resolve);
        w.worker.postMessage(full, transfer);
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}
