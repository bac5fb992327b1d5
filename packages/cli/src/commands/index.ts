import type { Command } from 'commander';

/** Every command group, in the order `msp --help` lists them. Each group lives in its own module. */
export function registerCommands(program: Command): void {
  void program;
}
