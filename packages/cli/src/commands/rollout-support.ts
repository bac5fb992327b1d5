/** Shared by the release, rollout and deploy commands: follow an operation, printing each step. */
import { CliError, printJson } from '../cli-support.js';
import { call, segment, type ControlPlaneClient } from '../client.js';

export function soakSeconds(value: string | undefined): { soakSeconds?: number } {
  if (value === undefined) return {};
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new CliError(`--soak must be a number of seconds, not '${value}'.`, 2);
  return { soakSeconds: n };
}

/** Prints each step as it finishes; exits 1 (with the reason) when the operation failed. */
export async function followOperation(
  client: ControlPlaneClient,
  id: string,
  options: { json?: boolean; timeoutMs?: number } = {},
) {
  const deadline = Date.now() + (options.timeoutMs ?? 15 * 60_000);
  const printed = new Set<string>();
  const started = Date.now();
  for (;;) {
    const op = await call(client.api.operations[':id'].$get({ param: { id: segment(id) } }));
    if (!options.json) {
      for (const s of op.steps) {
        if ((s.status === 'succeeded' || s.status === 'failed') && !printed.has(s.name)) {
          printed.add(s.name);
          const secs = ((Date.now() - started) / 1000).toFixed(1);
          process.stderr.write(
            `  ${s.status === 'succeeded' ? '✓' : '✗'} ${s.name.padEnd(9)} ${s.detail ?? ''}  (${secs} s)\n`,
          );
        }
      }
    }
    if (op.status === 'succeeded' || op.status === 'failed') {
      if (options.json) printJson(op);
      if (op.status === 'failed') throw new CliError(`${op.kind} failed: ${op.error ?? 'unknown error'}`, 1);
      return op;
    }
    if (Date.now() > deadline) {
      throw new CliError(
        `Gave up waiting for operation ${id}; follow it with \`msp operations show ${id}\`.`,
      );
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}
