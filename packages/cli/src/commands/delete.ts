/** `msp delete <service> <env>` (or `<env>/<instance>`): tear a deployment down, its data with it. */
import type { Command } from 'commander';
import { action } from '../cli-support.js';

export interface DeleteOptions {
  confirm?: string;
  reason?: string;
  wait?: boolean;
  repo?: string;
  json?: boolean;
}

export function registerDeleteCommands(program: Command): void {
  program
    .command('delete')
    .description(
      'Delete a deployment and its data (the backups stay). One the platform repo still declares needs --confirm naming it, and gets a final backup first; better: remove it from the repo',
    )
    .argument('<target>', 'service id, or <env>/<instance> for an instance')
    .argument('[env]', 'environment (for a service)')
    .option(
      '--confirm <key>',
      'the deployment key, e.g. releaseregistry/dev: delete it although the repo declares it',
    )
    .option('--reason <text>', 'why, for the audit trail')
    .option('--no-wait', 'return once the deletion is queued')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print JSON')
    .action(
      action(async (target: string, env: string | undefined, opts: DeleteOptions) =>
        (await import('./delete-impl.js')).deleteDeployment(target, env, opts),
      ),
    );
}
