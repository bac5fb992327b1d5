/** `msp instance create|list|show|upgrade|delete|restore|extend`: the managed-instance playbooks. */
import type { Command } from 'commander';
import { action } from '../cli-support.js';

const impl = () => import('./instance-impl.js');

export interface InstanceOptions {
  repo?: string;
  json?: boolean;
  env?: string;
  dryRun?: boolean;
  wait?: boolean;
}
export interface InstanceCreateOptions extends InstanceOptions {
  customer: string;
  type: string;
  service?: string;
  version?: string;
  domain?: string;
  adminEmail?: string;
  feature: string[];
  ttl?: string;
  region?: string;
  license?: string;
}
export interface InstanceRestoreOptions extends InstanceOptions {
  to?: string;
  backup?: string;
  latest?: boolean;
  inPlace?: boolean;
  into?: string;
}

const common = (c: Command, dryRun = true) => {
  c.option('--env <env>', 'environment of the instance (or write <env>/<id>)')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print JSON');
  if (dryRun) {
    c.option('--dry-run', 'print the plan and change nothing').option(
      '--no-wait',
      'queue the playbook and print its operation without following it',
    );
  }
  return c;
};

export function registerInstanceCommands(program: Command): void {
  const instance = program
    .command('instance')
    .description('Managed instances: one dedicated copy of a product per customer, run by playbooks');
  common(
    instance
      .command('create')
      .description(
        'Create an instance: config committed, database and volumes, deploy, health check, alerting',
      )
      .argument('<id>', 'instance id (or <env>/<id>)')
      .requiredOption('--customer <slug>', 'the customer')
      .requiredOption('--type <type>', 'internal, trial or production')
      .option('--service <id>', 'the product (default: the one other instances run)')
      .option('--version <v>', 'a public release, or latest', 'latest')
      .option('--domain <name>', 'default <customer>.<baseDomain> (unique across environments)')
      .option('--admin-email <email>', 'default admin@<domain>')
      .option(
        '--feature <name>',
        'a feature to enable (repeat)',
        (v: string, all: string[]) => [...all, v],
        [],
      )
      .option('--ttl <duration>', 'delete it after this long (e.g. 72h); not for production')
      .option('--region <region>', 'where it runs')
      .option('--license <key>', 'its license'),
  ).action(action(async (id: string, opts: InstanceCreateOptions) => (await impl()).create(id, opts)));
  common(
    instance.command('list').description('Instances with version, type, customer, health, last backup, TTL'),
    false,
  ).action(action(async (opts: InstanceOptions) => (await impl()).list(opts)));
  common(
    instance
      .command('show')
      .description('One instance, its operations and events')
      .argument('<instance>', '<env>/<id> or <id>'),
    false,
  ).action(action(async (ref: string, opts: InstanceOptions) => (await impl()).show(ref, opts)));
  common(
    instance
      .command('upgrade')
      .description(
        'Upgrade: health, pre-upgrade backup, migrator, deploy, health, config bump; rolls back by itself',
      )
      .argument('<instance>', '<env>/<id> or <id>')
      .requiredOption('--to <version>', 'a newer public release, or latest'),
  ).action(
    action(async (ref: string, opts: InstanceOptions & { to: string }) => (await impl()).upgrade(ref, opts)),
  );
  common(
    instance
      .command('delete')
      .description('Delete: final backup (kept), config removed and committed, teardown')
      .argument('<instance>', '<env>/<id> or <id>')
      .option('--confirm <id>', 'needed for production instances: the instance id'),
  ).action(
    action(async (ref: string, opts: InstanceOptions & { confirm?: string }) =>
      (await impl()).remove(ref, opts),
    ),
  );
  common(
    instance
      .command('restore')
      .description(
        'Restore an instance to a time, a backup or the latest state, in place or into a new instance',
      )
      .argument('<instance>', '<env>/<id> or <id>')
      .option('--to <time>', 'an RFC 3339 time inside the recoverable window')
      .option('--backup <id>', 'a backup id')
      .option('--latest', 'the newest state the archive holds')
      .option('--in-place', 'replace its data (a safety backup is taken first)')
      .option('--into <new-id>', 'a new instance beside it'),
    false,
  ).action(action(async (ref: string, opts: InstanceRestoreOptions) => (await impl()).restore(ref, opts)));
  common(
    instance
      .command('extend')
      .description("Set a dev instance's TTL anew, counted from now")
      .argument('<instance>', '<env>/<id> or <id>')
      .requiredOption('--ttl <duration>', 'e.g. 24h'),
    false,
  ).action(
    action(async (ref: string, opts: InstanceOptions & { ttl: string }) => (await impl()).extend(ref, opts)),
  );
}
