/**
 * `msp operations ...`: operating the deployments of the platform repo. The handbook generator (and
 * Graphviz) is imported only inside the action, so `msp --help` stays fast.
 */
import type { Command } from 'commander';
import { action } from '../cli-support.js';

export interface GenerateHandbookPagesOptions {
  repo: string;
  out?: string;
  date?: string;
  revision?: string;
  json?: boolean;
}

/** Registers the `operations` group and returns it, so further subcommands can be added to it. */
export function registerOperationsCommands(program: Command): Command {
  const operations = program
    .command('operations')
    .description('Operations: durable workflows on deployments, and generated docs');

  operations
    .command('generate-handbook-pages')
    .description(
      'Generate the operations handbook: index.md, a page per service and an architecture diagram per environment',
    )
    .option('--repo <dir>', 'the platform repo', '.')
    .option('--out <dir>', 'where to write the pages (default: <repo>/docs)')
    .option(
      '--date <rfc3339>',
      'the time the pages say they were generated, e.g. 2026-01-01T00:00:00Z (default: now)',
    )
    .option('--revision <rev>', 'the platform repo revision the pages name (default: `git rev-parse HEAD`)')
    .option('--json', 'print the files written as JSON')
    .action(
      action(async (options: GenerateHandbookPagesOptions) => {
        const { runGenerateHandbookPages } = await import('./operations-impl.js');
        await runGenerateHandbookPages(options);
      }),
    );

  return operations;
}
