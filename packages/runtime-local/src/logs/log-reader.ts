/**
 * Reads a deployment's logs: every instance's rotated files oldest first, merged by time, filtered by
 * `since`; with `follow`, then tails new lines (polling, which also survives rotation) until aborted.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { deploymentLogDir, type LogStream } from './log-writer.js';

export interface LogLine {
  readonly time: Date;
  readonly stream: LogStream;
  /** The instance file name, e.g. `releaseregistry_dev_1`. */
  readonly instance: string;
  readonly text: string;
}

export interface ReadLogsOptions {
  readonly logDir: string;
  readonly deployment: string;
  readonly since?: Date;
  readonly follow?: boolean;
  readonly signal?: AbortSignal;
  /** How often `follow` looks for new lines (default 200 ms). */
  readonly pollMs?: number;
}

/** Parses one stored line; undefined for anything that is not `<ISO time> <stream> <text>`. */
export function parseLogLine(line: string, instance: string): LogLine | undefined {
  const a = line.indexOf(' ');
  const b = a < 0 ? -1 : line.indexOf(' ', a + 1);
  if (b < 0) return undefined;
  const ms = Date.parse(line.slice(0, a));
  const stream = line.slice(a + 1, b);
  if (Number.isNaN(ms) || (stream !== 'out' && stream !== 'err' && stream !== 'msp')) return undefined;
  return { time: new Date(ms), stream, instance, text: line.slice(b + 1) };
}

interface Tail {
  readonly instance: string;
  readonly path: string;
  ino: number;
  offset: number;
}

const chunkSize = 64 * 1024;

/** Lines of a file from `start`; `tail.offset` ends just past the last complete line. */
async function* fileLines(path: string, start: number, tail?: Tail): AsyncGenerator<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return;
  }
  try {
    if (tail !== undefined) tail.ino = (await handle.stat()).ino;
    const buffer = Buffer.alloc(chunkSize);
    let position = start;
    let carry = '';
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, chunkSize, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      const text = carry + buffer.toString('utf8', 0, bytesRead);
      const lines = text.split('\n');
      carry = lines.pop() ?? '';
      for (const line of lines) yield line;
    }
    if (tail !== undefined) tail.offset = position - Buffer.byteLength(carry);
  } finally {
    await handle.close();
  }
}

async function listInstances(dir: string): Promise<Map<string, string[]>> {
  const byInstance = new Map<string, { n: number; name: string }[]>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return new Map();
  }
  for (const name of names) {
    const match = /^(.+)\.log(?:\.(\d+))?$/.exec(name);
    if (match === null || match[1] === undefined) continue;
    const list = byInstance.get(match[1]) ?? [];
    list.push({ n: match[2] === undefined ? 0 : Number(match[2]), name });
    byInstance.set(match[1], list);
  }
  const result = new Map<string, string[]>();
  for (const [instance, files] of byInstance) {
    // Oldest first: the highest rotation number, down to the current file.
    result.set(
      instance,
      files.sort((x, y) => y.n - x.n).map((f) => join(dir, f.name)),
    );
  }
  return result;
}

async function* instanceLines(
  instance: string,
  files: string[],
  since: number,
  tail: Tail,
): AsyncGenerator<LogLine> {
  for (const path of files) {
    const current = path === tail.path;
    if (!current && since > 0) {
      // A rotated file last written before `since` holds nothing newer.
      const info = await stat(path).catch(() => undefined);
      if (info === undefined || info.mtimeMs < since) continue;
    }
    for await (const raw of fileLines(path, 0, current ? tail : undefined)) {
      const line = parseLogLine(raw, instance);
      if (line !== undefined && line.time.getTime() >= since) yield line;
    }
  }
}

/** Merges per-instance streams (each already in time order) into one, by time. */
async function* mergeByTime(sources: AsyncGenerator<LogLine>[]): AsyncGenerator<LogLine> {
  const heads = await Promise.all(sources.map((s) => s.next()));
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const head = heads[i];
      if (head === undefined || head.done === true) continue;
      const bestHead = heads[best];
      if (
        best < 0 ||
        (bestHead !== undefined && bestHead.done !== true && head.value.time < bestHead.value.time)
      ) {
        best = i;
      }
    }
    if (best < 0) return;
    const chosen = heads[best];
    const source = sources[best];
    if (chosen === undefined || chosen.done === true || source === undefined) return;
    yield chosen.value;
    heads[best] = await source.next();
  }
}

function waitFor(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function readNew(tail: Tail): Promise<string[]> {
  const info = await stat(tail.path).catch(() => undefined);
  if (info === undefined) return [];
  const lines: string[] = [];
  if (info.ino !== tail.ino) {
    // Rotated (maybe more than once): find our old file among `.log.1`, `.log.2`, …, finish it from where we
    // were, read any newer rotated files whole, then start the current file from its beginning.
    const rotated: string[] = [];
    for (let n = 1; n < 100; n++) {
      const path = `${tail.path}.${n}`;
      const old = await stat(path).catch(() => undefined);
      if (old === undefined) break;
      if (old.ino === tail.ino) {
        for await (const line of fileLines(path, tail.offset)) lines.push(line);
        break;
      }
      rotated.unshift(path);
    }
    for (const path of rotated) for await (const line of fileLines(path, 0)) lines.push(line);
    tail.ino = info.ino;
    tail.offset = 0;
  }
  if (info.size < tail.offset) tail.offset = 0; // truncated
  if (info.size > tail.offset) {
    for await (const line of fileLines(tail.path, tail.offset, tail)) lines.push(line);
  }
  return lines;
}

export async function* readLogs(options: ReadLogsOptions): AsyncGenerator<LogLine> {
  const dir = deploymentLogDir(options.logDir, options.deployment);
  const since = options.since?.getTime() ?? 0;
  const signal = options.signal;
  const aborted = (): boolean => signal?.aborted === true;
  const tails = new Map<string, Tail>();

  const instances = await listInstances(dir);
  const sources: AsyncGenerator<LogLine>[] = [];
  for (const [instance, files] of instances) {
    const tail: Tail = { instance, path: join(dir, `${instance}.log`), ino: -1, offset: 0 };
    tails.set(instance, tail);
    sources.push(instanceLines(instance, files, since, tail));
  }
  for await (const line of mergeByTime(sources)) {
    if (aborted()) return;
    yield line;
  }
  if (options.follow !== true) return;

  const pollMs = options.pollMs ?? 200;
  while (!aborted()) {
    await waitFor(pollMs, signal);
    if (aborted()) return;
    for (const instance of (await listInstances(dir)).keys()) {
      if (!tails.has(instance)) {
        tails.set(instance, { instance, path: join(dir, `${instance}.log`), ino: -1, offset: 0 });
      }
    }
    const batch: LogLine[] = [];
    for (const tail of tails.values()) {
      if (tail.ino === -1) {
        const info = await stat(tail.path).catch(() => undefined);
        if (info === undefined) continue;
        tail.ino = info.ino;
      }
      for (const raw of await readNew(tail)) {
        const line = parseLogLine(raw, tail.instance);
        if (line !== undefined && line.time.getTime() >= since) batch.push(line);
      }
    }
    batch.sort((x, y) => x.time.getTime() - y.time.getTime());
    for (const line of batch) {
      if (aborted()) return;
      yield line;
    }
  }
}
