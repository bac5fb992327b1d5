/**
 * Spawning one instance's process, apart from its supervision: the environment of the runtime contract
 * (the spec's variables plus PATH, PORT and HOST, nothing inherited), its own process group, what its log
 * redacts, what a failed spawn means to the user, and the stderr tail kept for its status.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { LOOPBACK, type InstanceSpec } from './supervisor-contract.js';

const secretKey = /SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIAL/i;
const stderrTailLines = 20;

/** The values the instance's log must never show: the probe secret and every secret-looking variable. */
export function redactionsOf(spec: InstanceSpec): string[] {
  return [
    spec.probe.secret,
    ...Object.entries(spec.env)
      .filter(([key]) => secretKey.test(key))
      .map(([, value]) => value),
  ];
}

/**
 * Spawns `command args` in the instance's working directory, detached into its own process group (killed
 * as a group, so grandchildren die too), as the spec's OS user when it names one. Throws what spawn throws.
 */
export function spawnInstance(spec: InstanceSpec, command: string, args: string[]): ChildProcess {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    ...spec.env,
  };
  env.PORT = String(spec.port);
  env.HOST = LOOPBACK;
  return spawn(command, args, {
    cwd: spec.cwd,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(spec.user ? { uid: spec.user.uid, gid: spec.user.gid } : {}),
  });
}

/** Why `command` did not start, and what to fix. */
export function spawnFailure(command: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const hint =
    code === 'ENOENT'
      ? 'not found: check the command in the spec and that the release bundle contains it'
      : code === 'EACCES'
        ? 'is not executable: fix its permissions (chmod +x) or run it through its interpreter'
        : `could not be started (${code ?? String(error)})`;
  return `command "${command}" ${hint}`;
}

/** The last non-empty lines of a process's stderr (20, each cut at 1000 characters). */
export class StderrTail {
  private tail: string[] = [];
  private partial = '';

  push(chunk: Buffer): void {
    const lines = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = (lines.pop() ?? '').slice(-4096);
    for (const line of lines) if (line.trim() !== '') this.tail.push(line.slice(0, 1000));
    if (this.tail.length > stderrTailLines) this.tail.splice(0, this.tail.length - stderrTailLines);
  }

  lines(): string[] {
    return [...this.tail];
  }
}
