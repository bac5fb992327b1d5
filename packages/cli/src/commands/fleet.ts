/** `msp fleet upgrade|list|show|pause|resume|report`: upgrades of many instances in rings. */
import type { Command } from 'commander';
import { action } from '../cli-support.js';

const impl = () => import('./fleet-impl.js');

export interface FleetOptions {
  repo?: string;
  json?: boolean;
}
export interface FleetUpgradeOptions extends FleetOptions {
  to: string;
  env?: string;
  type: string[];
  filter: string[];
  concurrency?: string;
  soak?: string;
  dryRun?: boolean;
  now?: boolean;
  reason?: string;
}

const many = (v: string, all: string[]) => [...all, v];
const common = (c: Command) =>
  c.option('--repo <dir>', 'platform repo of the running control plane').option('--json', 'print JSON');

export function registerFleetCommands(program: Command): void {
  const fleet = program
    .command('fleet')
    .description(
      'Fleet upgrades: many instances in rings (internal, then trials, then production), N at a time',
    );
  common(
    fleet
      .command('upgrade')
      .description('Upgrade the selected instances in rings; stops at the first failure')
      .requiredOption('--to <version>', 'a public release, or latest')
      .option('--env <env>', 'only this environment')
      .option('--type <type>', 'only this instance type (repeat)', many, [])
      .option(
        '--filter <label=value>',
        'customer, channel, region, version, id or feature=<name> (repeat)',
        many,
        [],
      )
      .option('--concurrency <n>', 'upgrades at a time (default 1)')
      .option('--soak <duration>', 'wait between rings (default msp.yaml instances.soak, else 10m)')
      .option('--now', 'ignore maintenance windows (needs --reason)')
      .option('--reason <text>', 'why --now (recorded)')
      .option('--dry-run', 'print the rings and change nothing'),
  ).action(action(async (opts: FleetUpgradeOptions) => (await impl()).upgrade(opts)));
  common(fleet.command('list').description('Fleet upgrades, newest first')).action(
    action(async (opts: FleetOptions) => (await impl()).list(opts)),
  );
  common(
    fleet
      .command('show')
      .description('Every instance of a fleet: ring, state, why it waits')
      .argument('<id>'),
  ).action(action(async (id: string, opts: FleetOptions) => (await impl()).show(id, opts)));
  common(fleet.command('report').description('The tracking report in Markdown').argument('<id>')).action(
    action(async (id: string, opts: FleetOptions) => (await impl()).report(id, opts)),
  );
  common(
    fleet.command('pause').description('Start no new upgrade (running ones finish)').argument('<id>'),
  ).action(action(async (id: string, opts: FleetOptions) => (await impl()).pause(id, opts)));
  common(
    fleet
      .command('resume')
      .description('Carry on a paused or stopped fleet (failed instances retried)')
      .argument('<id>'),
  ).action(action(async (id: string, opts: FleetOptions) => (await impl()).resume(id, opts)));
}
