/** `msp generate`: the platform repo compiled to Kubernetes manifests or Google Cloud Terraform JSON. */
import type { Command } from 'commander';
import { action } from '../cli-support.js';

export interface GenerateCliOptions {
  target?: string;
  out?: string;
  check?: boolean;
  repo?: string;
  json?: boolean;
  restoreTo?: string;
}

export function registerGenerateCommands(program: Command): void {
  program
    .command('generate')
    .description(
      'Compile every deployment on a kubernetes or gcp environment to generated/<target>/<env>/<name>/ (deterministic)',
    )
    .argument('[service]', 'only this service (with its instances) or this instance')
    .argument('[env]', 'only this environment')
    .option('--target <target>', 'kubernetes or gcp (default: every target an environment of msp.yaml uses)')
    .option('--out <dir>', 'write here instead of <repo>/generated')
    .option('--check', 'write nothing; fail naming every stale, missing or extra file (for CI)')
    .option(
      '--restore-to <time>',
      'print the CloudNativePG Cluster that restores <service> <env> to this time (kubernetes)',
    )
    .option('--repo <dir>', 'the platform repo (default: the current directory when it has msp.yaml)')
    .option('--json', 'print JSON')
    .action(
      action(async (service: string | undefined, env: string | undefined, opts: GenerateCliOptions) => {
        const { runGenerate } = await import('./generate-impl.js');
        await runGenerate(service, env, opts);
      }),
    );
}
