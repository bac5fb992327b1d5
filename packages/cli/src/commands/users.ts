/** `msp users add|list|role|disable`, `msp tokens create|list|revoke`, `msp whoami`. */
import type { Command } from 'commander';
import { action } from '../cli-support.js';

const impl = () => import('./users-impl.js');

export interface CommonOptions {
  repo?: string;
  json?: boolean;
}
export interface UserAddOptions extends CommonOptions {
  role: string;
}
export interface TokenCreateOptions extends CommonOptions {
  user?: string;
  label?: string;
  expiresIn?: string;
}

export function registerUserCommands(program: Command): void {
  const common = (c: Command) =>
    c.option('--repo <dir>', 'platform repo of the running control plane').option('--json', 'print JSON');
  const users = program
    .command('users')
    .description('People who may call the control plane, and their roles (admin)');
  common(
    users
      .command('add')
      .description('Add a person: viewer reads, operator runs operations, admin also manages people')
      .argument('<name>', 'user name, e.g. alice or alice@example.com')
      .requiredOption('--role <role>', 'viewer, operator or admin'),
  ).action(action(async (name: string, opts: UserAddOptions) => (await impl()).usersAdd(name, opts)));
  common(users.command('list').description('List people and their roles')).action(
    action(async (opts: CommonOptions) => (await impl()).usersList(opts)),
  );
  common(
    users
      .command('role')
      .description("Change a person's role")
      .argument('<name>', 'user name')
      .argument('<role>', 'viewer, operator or admin'),
  ).action(
    action(async (name: string, role: string, opts: CommonOptions) =>
      (await impl()).usersRole(name, role, opts),
    ),
  );
  common(
    users
      .command('disable')
      .description('Disable a person and revoke all their tokens')
      .argument('<name>', 'user name'),
  ).action(action(async (name: string, opts: CommonOptions) => (await impl()).usersDisable(name, opts)));

  const tokens = program
    .command('tokens')
    .description('API tokens: shown once, stored hashed, always expiring');
  common(
    tokens
      .command('create')
      .description('Create a token (printed once; keep it like a password)')
      .option('--user <name>', 'whose token (admins only; your own by default)')
      .option('--label <text>', 'what it is for')
      .option('--expires-in <duration>', 'lifetime, 1m to 365d', '90d'),
  ).action(action(async (opts: TokenCreateOptions) => (await impl()).tokensCreate(opts)));
  common(tokens.command('list').description("Your tokens (an admin: everyone's), never their secret")).action(
    action(async (opts: CommonOptions) => (await impl()).tokensList(opts)),
  );
  common(
    tokens
      .command('revoke')
      .description('Revoke a token at once')
      .argument('<id>', 'as `msp tokens list` shows it'),
  ).action(action(async (id: string, opts: CommonOptions) => (await impl()).tokensRevoke(id, opts)));

  common(
    program.command('whoami').description('Who your token belongs to, your role and your active grants'),
  ).action(action(async (opts: CommonOptions) => (await impl()).whoami(opts)));
}
