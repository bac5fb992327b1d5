/** `msp release create|list|promote`, `msp rollout …` and `msp deploy <service> <env> --release <v>`. */
import type { Command } from 'commander';
import { action } from '../cli-support.js';
import { registerDeployCommands } from './deploy.js';
import { registerRolloutCommands } from './rollout.js';

const impl = () => import('./release-impl.js');

export interface ReleaseCreateOptions {
  version: string;
  from?: string;
  image?: string;
  gitSha?: string;
  development?: boolean;
  soak?: string;
  repo?: string;
  json?: boolean;
  wait?: boolean;
}

export function registerReleaseCommands(program: Command): void {
  // `--version vX.Y.Z` belongs to `release create`: msp's own --version only counts before a command.
  program.enablePositionalOptions();
  const release = program
    .command('release')
    .description('Releases: artifacts registered in the Release Registry');
  release
    .command('create')
    .description(
      'Pack the service code, upload it to the artifact store, register the release, and deliver it to the first rollout stage',
    )
    .argument('<service>', 'service id')
    .requiredOption('--version <vX.Y.Z>', 'the new version (immutable)')
    .option(
      '--from <dir>',
      "the built code: packed here and uploaded with its sha256 (default: the server packs the service's build.local.dir)",
    )
    .option('--image <ref>', 'register an OCI image pinned by digest (…@sha256:…) instead of a bundle')
    .option('--git-sha <sha>', 'the commit it was built from (default: git rev-parse HEAD)')
    .option('--development', 'a development release: never made public')
    .option('--soak <seconds>', 'how long to watch the release after the switch')
    .option('--no-wait', 'return once the delivery is queued')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print JSON')
    .action(
      action(async (service: string, opts: ReleaseCreateOptions) => (await impl()).create(service, opts)),
    );
  release
    .command('list')
    .description("A service's releases, newest first")
    .argument('<service>', 'service id')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print JSON')
    .action(
      action(async (service: string, opts: { repo?: string; json?: boolean }) =>
        (await impl()).list(service, opts),
      ),
    );
  release
    .command('promote')
    .description('Make a release public in the Release Registry (refused for development releases)')
    .argument('<service>', 'service id')
    .argument('<version>', 'version')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print JSON')
    .action(
      action(async (service: string, version: string, opts: { repo?: string; json?: boolean }) =>
        (await impl()).publish(service, version, opts),
      ),
    );
  registerRolloutCommands(program);
  registerDeployCommands(program);
}
