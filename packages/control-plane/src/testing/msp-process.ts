/**
 * Drives the real `msp up` CLI as a subprocess for tests that kill the control plane: start it on a
 * platform repo with chosen ports, call its API with the admin token it wrote, stop everything at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const mspBin = fileURLToPath(new URL('../../../cli/bin/msp.js', import.meta.url));

export interface MspUp {
  readonly child: ChildProcess;
  /** Resolves when the process has exited (at once if it already has). */
  exited(): Promise<void>;
}

export interface MspUpHarness {
  start(env?: Record<string, string>): MspUp;
  /** GET (no body) or POST (a body) under /api/v1 with the admin token; a non-2xx answer throws. */
  api: <T>(path: string, body?: unknown) => Promise<T>;
  /** SIGTERM to every `msp up` still running, then waits for them: call it in `after`. */
  stopAll(): Promise<void>;
}

export function mspUpHarness(options: { repo: string; port: number; proxyPort: number }): MspUpHarness {
  const children: ChildProcess[] = [];
  const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
  const exited = (c: ChildProcess) =>
    running(c) ? new Promise<void>((resolve) => c.once('exit', () => resolve())) : Promise.resolve();
  return {
    start(env = {}) {
      const child = spawn(
        process.execPath,
        [
          mspBin,
          'up',
          '--repo',
          options.repo,
          '--port',
          String(options.port),
          '--proxy-port',
          String(options.proxyPort),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
      );
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.on('exit', (code, signal) => {
        if (code !== 0 && signal !== 'SIGKILL' && signal !== 'SIGTERM') {
          console.error(`msp up exited ${code}:\n${output}`);
        }
      });
      children.push(child);
      return { child, exited: () => exited(child) };
    },
    api: async <T>(path: string, body?: unknown): Promise<T> => {
      const token = (await readFile(join(options.repo, '.msp', 'admin-token'), 'utf8')).trim();
      const res = await fetch(`http://127.0.0.1:${options.port}/api/v1${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    async stopAll() {
      for (const c of children) if (running(c)) c.kill('SIGTERM');
      await Promise.all(children.map(exited));
    },
  };
}
