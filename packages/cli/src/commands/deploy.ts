/** `msp deploy <service> <env> --release <version>`: environments with deploy type manual. */
import type { Command } from 'commander';
import { action } from '../cli-support.js';
import type { RolloutOptions } from './rollout.js';

export function registerDeployCommands(program: Command): void {
  program
    .command('deploy')
    .description('Deploy a release to an environment whose deploy type is manual')
    .argument('<service>', 'service id')
    .argument('<env>', 'environment')
    .requiredOption('--release <version>', 'the release to deploy')
    .option('--soak <seconds>', 'how long to watch the release after the switch')
    .option('--no-wait', 'return once the deployment is queued')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print JSON')
    .action(
      action(async (service: string, env: string, opts: RolloutOptions & { release: string }) =>
        (await import('./deploy-impl.js')).deployRelease(service, env, opts),
      ),
    );
}
