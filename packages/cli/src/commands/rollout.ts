/** `msp rollout promote|status|suspend|resume|rollback|history`. */
import type { Command } from 'commander';
import { action } from '../cli-support.js';

const impl = () => import('./rollout-impl.js');

export interface RolloutOptions {
  repo?: string;
  json?: boolean;
  soak?: string;
  wait?: boolean;
}

export function registerRolloutCommands(program: Command): void {
  const rollout = program
    .command('rollout')
    .description('Rollout pipelines: dev → … → prod, with a health gate');
  rollout
    .command('promote')
    .description('Move the release of the previous stage (or --release) to the next stage')
    .argument('<service>', 'service id')
    .option('--to <env>', 'the stage to promote to (default: the next one behind)')
    .option('--release <version>', 'a release that passed through the previous stage')
    .option('--soak <seconds>', 'how long to watch the release after the switch')
    .option('--no-wait', 'return once the promotion is queued')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print JSON')
    .action(
      action(async (service: string, opts: RolloutOptions & { to?: string; release?: string }) =>
        (await impl()).promote(service, opts),
      ),
    );
  rollout
    .command('status')
    .description("Each stage's release, health and pending candidates")
    .argument('<service>', 'service id')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print JSON')
    .action(action(async (service: string, opts: RolloutOptions) => (await impl()).status(service, opts)));
  for (const verb of ['suspend', 'resume'] as const) {
    rollout
      .command(verb)
      .description(
        verb === 'suspend'
          ? 'Refuse deliveries and promotions until resumed'
          : 'Let deliveries and promotions through again (overrides rollout.suspended)',
      )
      .argument('<service>', 'service id')
      .option('--repo <dir>', 'platform repo of the running control plane')
      .option('--json', 'print JSON')
      .action(
        action(async (service: string, opts: RolloutOptions) => (await impl()).suspend(service, verb, opts)),
      );
  }
  rollout
    .command('rollback')
    .description('Redeploy the release the environment ran before')
    .argument('<service>', 'service id')
    .argument('<env>', 'environment')
    .option('--soak <seconds>', 'how long to watch the release after the switch')
    .option('--no-wait', 'return once the rollback is queued')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print JSON')
    .action(
      action(async (service: string, env: string, opts: RolloutOptions) =>
        (await impl()).rollback(service, env, opts),
      ),
    );
  rollout
    .command('history')
    .description('Every delivery, promotion, deployment and rollback: what, from, to, who, when, outcome')
    .argument('<service>', 'service id')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print JSON')
    .action(action(async (service: string, opts: RolloutOptions) => (await impl()).history(service, opts)));
}
