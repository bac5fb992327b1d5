/** `msp up`, `msp server`, `msp status`, `msp logs`, `msp pg connect`, `msp operations list|show`. */
import { Option, type Command } from 'commander';
import { action } from '../cli-support.js';

const impl = () => import('./runtime-impl.js');

export function registerRuntimeCommands(program: Command): void {
  program
    .command('up')
    .description(
      'Start the control plane and the local runtime in the foreground and run every deployment of the platform repo (Ctrl-C stops everything)',
    )
    .option(
      '--repo <dir>',
      'platform repo (default: the current directory when it has msp.yaml, else examples/platform)',
    )
    .option('--port <n>', 'control plane API port', '7700')
    .option('--proxy-port <n>', 'HTTP proxy port routing domains to deployments', '7780')
    .option('--timeout <duration>', 'how long to wait for every deployment to become healthy', '5m')
    .action(action(async (opts: UpOptions) => (await impl()).up(opts)));

  program
    .command('server')
    .description(
      'Run the control plane against DATABASE_URL, without the embedded demo defaults (for production use)',
    )
    .requiredOption('--repo <dir>', 'platform repo to reconcile')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'control plane API port', '7700')
    .option('--proxy-port <n>', 'HTTP proxy port', '7780')
    .action(action(async (opts: ServerOptions) => (await impl()).server(opts)));

  program
    .command('status')
    .description('Every deployment: release, health, instances, URL, database')
    .option('--repo <dir>', 'platform repo of the running control plane (default: as for `msp up`)')
    .option('--json', 'print JSON')
    .action(action(async (opts: { repo?: string; json?: boolean }) => (await impl()).status(opts)));

  program
    .command('logs')
    .description(
      'Logs of a deployment: `msp logs <service> <env>`, or `msp logs <env>/<instance>` for an instance',
    )
    .argument('<target>', 'service id, or <env>/<instance>')
    .argument('[env]', 'environment of the service')
    .option('-f, --follow', 'keep printing new lines')
    .option('--since <duration|time>', 'only lines newer than this (e.g. 10m, 2h, or an RFC 3339 time)')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print each line as JSON')
    .action(
      action(async (target: string, env: string | undefined, opts: LogsOptions) =>
        (await impl()).logs(target, env, opts),
      ),
    );

  const pgCmd = program.command('pg').description('PostgreSQL of a deployment');
  pgCmd
    .command('connect')
    .description(
      'Connect to a deployment database with temporary credentials: read-only by default, write with --write-access',
    )
    .argument('<target>', 'service id, or <env>/<instance>')
    .argument('[env]', 'environment of the service')
    .option('--write-access', 'connect as the workload role (can write): use with caution')
    .option('--session-timeout <duration>', 'credentials stop working after this (1s to 24h)', '300s')
    .option('--print', 'print the connection strings instead of opening psql')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print JSON')
    .action(
      action(async (target: string, env: string | undefined, opts: PgConnectOptions) =>
        (await impl()).pgConnect(target, env, opts),
      ),
    );
}

/** Adds `list` and `show` to the `msp operations` group (created by the handbook commands). */
export function registerOperationQueries(program: Command): void {
  const ops =
    program.commands.find((c) => c.name() === 'operations') ??
    program
      .command('operations')
      .description('Operations: durable workflows on deployments, and generated docs');
  ops
    .command('list')
    .description('Recent operations with their status')
    .option('--deployment <key>', 'only this deployment (e.g. releaseregistry/dev)')
    .addOption(new Option('--limit <n>', 'how many').default('30'))
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print JSON')
    .action(action(async (opts: OperationsListOptions) => (await impl()).operationsList(opts)));
  ops
    .command('show')
    .description('One operation: its steps and log')
    .argument('<id>', 'operation id (from `msp operations list`)')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, opts: { repo?: string; json?: boolean }) =>
        (await impl()).operationsShow(id, opts),
      ),
    );
}

export interface UpOptions {
  repo?: string;
  port: string;
  proxyPort: string;
  timeout: string;
}
export interface ServerOptions {
  repo: string;
  host: string;
  port: string;
  proxyPort: string;
}
export interface LogsOptions {
  follow?: boolean;
  since?: string;
  repo?: string;
  json?: boolean;
}
export interface PgConnectOptions {
  writeAccess?: boolean;
  sessionTimeout: string;
  print?: boolean;
  repo?: string;
  json?: boolean;
}
export interface OperationsListOptions {
  deployment?: string;
  limit: string;
  repo?: string;
  json?: boolean;
}
