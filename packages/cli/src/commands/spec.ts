/**
 * `msp spec validate`, `msp spec schema` and `msp init`. The spec package (zod, yaml) is imported only
 * inside the actions, so `msp --help` stays fast.
 */
import type { Command } from 'commander';
import { action, CliError, printJson } from '../cli-support.js';

const SCHEMA_KINDS = ['service', 'instance', 'platform'] as const;
type SchemaKind = (typeof SCHEMA_KINDS)[number];

export function registerSpecCommands(program: Command): void {
  program
    .command('init')
    .description('Scaffold a valid services/<service-id>/service.yaml and README.md')
    .argument('<service-id>', 'lowercase letters, digits and dashes, at most 20 characters')
    .option('--repo <dir>', 'the platform repo', '.')
    .option('--owner <team>', 'the owning team (default: the support team of msp.yaml, else "platform")')
    .action(
      action(async (serviceId: string, options: { repo: string; owner?: string }) => {
        const { runInit } = await import('./init.js');
        await runInit(serviceId, options);
      }),
    );

  const spec = program.command('spec').description('Validate the platform repo and print its JSON Schemas');

  spec
    .command('validate')
    .description(
      'Validate msp.yaml, every service.yaml and every instance config.yaml, with file:line:column',
    )
    .option('--repo <dir>', 'the platform repo', '.')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (options: { repo: string; json?: boolean }) => {
        const { loadPlatformRepo, formatDiagnostic } = await import('@msp/spec');
        const { repo, diagnostics } = await loadPlatformRepo(options.repo);
        const summary = repo && {
          services: repo.services.length,
          instances: repo.instances.length,
          environments: repo.platform.environments.length,
        };
        if (options.json) {
          printJson({ valid: diagnostics.length === 0, diagnostics, ...(summary ? { summary } : {}) });
        } else if (diagnostics.length > 0) {
          const text = diagnostics.map((d) => formatDiagnostic(d)).join('\n');
          process.stdout.write(
            `${text}\n${diagnostics.length} error${diagnostics.length === 1 ? '' : 's'}\n`,
          );
        } else if (summary) {
          process.stdout.write(
            `${options.repo} is valid: ${summary.services} service${summary.services === 1 ? '' : 's'}, ` +
              `${summary.instances} instance${summary.instances === 1 ? '' : 's'}, ` +
              `${summary.environments} environment${summary.environments === 1 ? '' : 's'}\n`,
          );
        }
        // Set, not exit: stdout is flushed before the process ends.
        if (diagnostics.length > 0) process.exitCode = 2;
      }),
    );

  spec
    .command('schema')
    .description('Print the JSON Schema of service.yaml, an instance config.yaml or msp.yaml')
    .argument('[kind]', `one of ${SCHEMA_KINDS.join(', ')}`, 'service')
    .action(
      action(async (kind: string) => {
        if (!(SCHEMA_KINDS as readonly string[]).includes(kind)) {
          throw new CliError(`unknown schema \`${kind}\`; choose one of ${SCHEMA_KINDS.join(', ')}`, 2);
        }
        const { jsonSchemaFor } = await import('@msp/spec');
        printJson(jsonSchemaFor(kind as SchemaKind));
      }),
    );
}
