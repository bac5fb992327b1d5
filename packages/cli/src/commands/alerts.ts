/** `msp alerts list|show|ack|deliveries|silence|silences|unsilence|secret|test`. */
import type { Command } from 'commander';
import { action } from '../cli-support.js';

const impl = () => import('./alerts-impl.js');

export interface AlertsOptions {
  repo?: string;
  json?: boolean;
  all?: boolean;
}
export interface DeliveriesOptions extends AlertsOptions {
  status?: string;
  incident?: string;
}
export interface SilenceOptions extends AlertsOptions {
  for?: string;
  until?: string;
  reason: string;
}

const common = (c: Command) =>
  c.option('--repo <dir>', 'platform repo of the running control plane').option('--json', 'print JSON');

export function registerAlertsCommands(program: Command): void {
  const alerts = program
    .command('alerts')
    .description('Incidents, notification deliveries and silences of the alert policies (docs/alerts.md)');
  common(
    alerts
      .command('list')
      .description('Open incidents (--all: resolved and closed ones too), newest first')
      .option('--all', 'every incident, not only open ones'),
  ).action(action(async (opts: AlertsOptions) => (await impl()).alertsList(opts)));
  common(
    alerts.command('show').description('One incident with its notifications').argument('<id>', 'incident id'),
  ).action(action(async (id: string, opts: AlertsOptions) => (await impl()).alertsShow(id, opts)));
  common(
    alerts
      .command('ack')
      .description('Acknowledge an incident: someone is on it')
      .argument('<id>', 'incident id'),
  ).action(action(async (id: string, opts: AlertsOptions) => (await impl()).alertsAck(id, opts)));
  common(
    alerts
      .command('deliveries')
      .description(
        'Notification deliveries: queued, delivered, failed or suppressed, with attempts and last error',
      )
      .option('--status <status>', 'queued, delivered, failed or suppressed')
      .option('--incident <id>', 'only those of one incident'),
  ).action(action(async (opts: DeliveriesOptions) => (await impl()).alertsDeliveries(opts)));
  common(
    alerts
      .command('silence')
      .description('Silence notifications of a policy, service and environment (each may be *) until a time')
      .argument('<policy>', 'policy id, such as external-uptime-check, or *')
      .argument('<service>', 'service id, or *')
      .argument('<env>', 'environment id, or *')
      .requiredOption('--reason <text>', 'why (said again when the silence ends)')
      .option('--for <duration>', 'how long, such as 2h (at most 30d)')
      .option('--until <time>', 'when it ends (RFC 3339)'),
  ).action(
    action(async (policy: string, service: string, env: string, opts: SilenceOptions) =>
      (await impl()).alertsSilence(policy, service, env, opts),
    ),
  );
  common(
    alerts
      .command('silences')
      .description('Active silences (--all: ended ones too)')
      .option('--all', 'ended ones too'),
  ).action(action(async (opts: AlertsOptions) => (await impl()).alertsSilences(opts)));
  common(
    alerts
      .command('unsilence')
      .description('End a silence now; its end is announced')
      .argument('<id>', 'silence id'),
  ).action(action(async (id: string, opts: AlertsOptions) => (await impl()).alertsUnsilence(id, opts)));
  const secret = alerts.command('secret').description("HMAC keys of msp.yaml's webhook channels");
  common(
    secret
      .command('set')
      .description('Store the key a webhook channel names in `secret`, read from standard input')
      .argument('<name>', "the channel's `secret`"),
  ).action(action(async (name: string, opts: AlertsOptions) => (await impl()).alertsSecretSet(name, opts)));
  common(
    alerts
      .command('test')
      .description('Send a test notification to one channel of msp.yaml')
      .argument('<channel>', 'channel name'),
  ).action(action(async (channel: string, opts: AlertsOptions) => (await impl()).alertsTest(channel, opts)));
}
