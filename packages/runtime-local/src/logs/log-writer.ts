/**
 * Per-instance log files with size-based rotation: `<logDir>/<deployment>/<instance>.log`, then `.log.1`
 * (newest rotated) up to `.log.<maxFiles-1>`. Every line is `<ISO time> <stream> <text>`. Lines are
 * collected and written once per event-loop turn, so a chatty child costs one write per burst.
 */
import { closeSync, fchmodSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensurePrivateDirSync, PRIVATE_FILE_MODE } from '../private-files.js';

/** `out` and `err` are the child's own streams; `msp` lines are the supervisor's notes (start, exit, restart). */
export type LogStream = 'out' | 'err' | 'msp';

export interface LogWriterOptions {
  readonly file: string;
  /** Rotate when the file would grow past this (default 10 MiB). */
  readonly maxBytes?: number;
  /** Files kept including the current one (default 5). */
  readonly maxFiles?: number;
  /** Values replaced by `[redacted]` wherever they appear (secrets handed to the process). */
  readonly redact?: readonly string[];
  readonly now?: () => number;
}

export interface LogWriter {
  /** Raw output of a stream; partial lines wait for their newline. */
  write(stream: LogStream, chunk: Buffer | string): void;
  /** One whole line. */
  line(stream: LogStream, text: string): void;
  flush(): void;
  close(): void;
}

const maxPartialBytes = 64 * 1024;

function safeName(part: string): string {
  return part.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** The directory holding a deployment's logs (`releaseregistry/dev` → `<logDir>/releaseregistry/dev`). */
export function deploymentLogDir(logDir: string, deployment: string): string {
  return join(
    logDir,
    ...deployment
      .split('/')
      .filter((p) => p !== '')
      .map(safeName),
  );
}

export function instanceLogPath(logDir: string, deployment: string, instanceId: string): string {
  return join(deploymentLogDir(logDir, deployment), `${safeName(instanceId)}.log`);
}

export function createLogWriter(options: LogWriterOptions): LogWriter {
  const file = options.file;
  const maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
  const maxFiles = Math.max(1, options.maxFiles ?? 5);
  const now = options.now ?? Date.now;
  const redact = (options.redact ?? []).filter((v) => v.length >= 4);
  // Owner-only: a service's output may hold what its users sent it.
  ensurePrivateDirSync(dirname(file));
  let fd: number | undefined = openSync(file, 'a', PRIVATE_FILE_MODE);
  fchmodSync(fd, PRIVATE_FILE_MODE); // a file from an older MSP was 0640
  let size = fstatSync(fd).size;
  let pending: string[] = [];
  let scheduled = false;
  const partial: Record<LogStream, string> = { out: '', err: '', msp: '' };

  function format(stream: LogStream, text: string): string {
    let clean = text.endsWith('\r') ? text.slice(0, -1) : text;
    for (const secret of redact) if (clean.includes(secret)) clean = clean.split(secret).join('[redacted]');
    return `${new Date(now()).toISOString()} ${stream} ${clean}\n`;
  }

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  }

  function rotate(): void {
    if (fd !== undefined) closeSync(fd);
    rmSync(`${file}.${maxFiles - 1}`, { force: true });
    for (let i = maxFiles - 2; i >= 1; i--) {
      try {
        renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      } catch {
        // a gap in the sequence is fine
      }
    }
    if (maxFiles > 1) renameSync(file, `${file}.1`);
    else rmSync(file, { force: true });
    fd = openSync(file, 'a', PRIVATE_FILE_MODE);
    size = 0;
  }

  function writeChunk(text: string): void {
    if (fd === undefined || text === '') return;
    const bytes = Buffer.from(text);
    writeSync(fd, bytes);
    size += bytes.length;
  }

  function flush(): void {
    scheduled = false;
    if (fd === undefined || pending.length === 0) return;
    const lines = pending;
    pending = [];
    let chunk = '';
    let chunkBytes = 0;
    for (const line of lines) {
      const len = Buffer.byteLength(line);
      if (size + chunkBytes + len > maxBytes && size + chunkBytes > 0) {
        writeChunk(chunk);
        chunk = '';
        chunkBytes = 0;
        rotate();
      }
      chunk += line;
      chunkBytes += len;
    }
    writeChunk(chunk);
  }

  return {
    write(stream, chunk) {
      if (fd === undefined) return;
      const text = partial[stream] + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      const parts = text.split('\n');
      let rest = parts.pop() ?? '';
      for (const part of parts) pending.push(format(stream, part));
      if (rest.length > maxPartialBytes) {
        pending.push(format(stream, rest));
        rest = '';
      }
      partial[stream] = rest;
      if (parts.length > 0) schedule();
    },
    line(stream, text) {
      if (fd === undefined) return;
      for (const part of text.split('\n')) pending.push(format(stream, part));
      schedule();
    },
    flush,
    close() {
      if (fd === undefined) return;
      for (const stream of ['out', 'err', 'msp'] as const) {
        if (partial[stream] !== '') pending.push(format(stream, partial[stream]));
        partial[stream] = '';
      }
      flush();
      closeSync(fd);
      fd = undefined;
    },
  };
}
