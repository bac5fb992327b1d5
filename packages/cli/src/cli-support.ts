/**
 * What every command shares: running an action with errors turned into exit codes in one place,
 * and printing results as text or JSON. Kept free of heavy imports so `msp --help` starts fast.
 */
import { exitCodeOf, isMspError } from '@msp/core';

/** An error whose message is already written for the user; exit code 2 when the input was wrong. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function fail(error: unknown): never {
  if (error instanceof CliError) {
    if (error.message) process.stderr.write(`msp: ${error.message}\n`);
    process.exit(error.exitCode);
  }
  if (isMspError(error)) {
    process.stderr.write(`msp: ${error.message}\n`);
    process.exit(exitCodeOf(error));
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`msp: unexpected error: ${message}\n`);
  if (process.env.MSP_DEBUG && error instanceof Error && error.stack)
    process.stderr.write(error.stack + '\n');
  process.exit(1);
}

/** Wraps a command action: awaits it, maps any error to a message and an exit code. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      fail(error);
    }
  };
}
