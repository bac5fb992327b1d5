/** Runs the built `msp` as a user does, in a subprocess: for the CLI's own tests. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..', '..');
export const BIN = join(ROOT, 'packages', 'cli', 'bin', 'msp.js');

/** Runs `msp` (this checkout's, or the `bin` given: another checkout's) as a subprocess, without MSP_URL/TOKEN. */
export function runMsp(
  args: string[],
  cwd = ROOT,
  bin = BIN,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.MSP_URL;
    delete env.MSP_TOKEN;
    const child = spawn(process.execPath, [bin, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
