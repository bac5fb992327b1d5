/** The work of `msp alerts …`, loaded only when it runs. */
import { CliError, printJson } from '../cli-support.js';
import { call, connect, segment } from '../client.js';
import type { AlertsOptions, DeliveriesOptions, SilenceOptions } from './alerts.js';

const STATUSES = ['queued', 'delivered', 'failed', 'suppressed'] as const;

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const fmt = (v: number | null) => (v === null ? '-' : String(Math.round(v * 1000) / 1000));

export async function alertsList(opts: AlertsOptions): Promise<void> {
  const client = connect(opts);
  const { incidents } = await call(
    client.api.alerts.incidents.$get({ query: opts.all ? { all: 'true' } : {} }),
  );
  if (opts.json) return printJson(incidents);
  if (incidents.length === 0) {
    console.log(opts.all ? 'no incidents' : 'no open incidents (--all shows resolved ones)');
    return;
  }
  console.log(
    pad([
      ['ID', 'SEVERITY', 'STATUS', 'DEPLOYMENT', 'POLICY', 'VALUE', 'THRESHOLD', 'OPENED', 'ACKED BY'],
      ...incidents.map((i) => [
        i.id,
        i.severity,
        i.status,
        i.deploymentKey,
        i.policyId,
        fmt(i.value),
        fmt(i.threshold),
        i.openedAt,
        i.ackedBy ?? '',
      ]),
    ]),
  );
}

export async function alertsShow(id: string, opts: AlertsOptions): Promise<void> {
  const client = connect(opts);
  const i = await call(client.api.alerts.incidents[':id'].$get({ param: { id: segment(id) } }));
  if (opts.json) return printJson(i);
  console.log(`${i.id}: [${i.severity}] ${i.title} on ${i.deploymentKey} — ${i.status}`);
  console.log(i.summary);
  console.log(
    `opened ${i.openedAt}${i.resolvedAt ? `, ${i.status} ${i.resolvedAt}` : ''}${i.closedReason ? ` (${i.closedReason})` : ''}`,
  );
  if (i.ackedBy) console.log(`acknowledged by ${i.ackedBy} at ${i.ackedAt}`);
  if (i.deliveries.length > 0) {
    console.log('notifications:');
    for (const d of i.deliveries)
      console.log(
        `  ${d.kind} → ${d.channel}: ${d.status}, ${d.attempts} attempt(s)${d.lastError ? `, last error: ${d.lastError}` : ''}`,
      );
  }
}

export async function alertsAck(id: string, opts: AlertsOptions): Promise<void> {
  const client = connect(opts);
  const i = await call(client.api.alerts.incidents[':id'].ack.$post({ param: { id: segment(id) } }));
  if (opts.json) return printJson(i);
  console.log(`${i.id} acknowledged by ${i.ackedBy} at ${i.ackedAt}`);
}

export async function alertsDeliveries(opts: DeliveriesOptions): Promise<void> {
  if (opts.status !== undefined && !(STATUSES as readonly string[]).includes(opts.status))
    throw new CliError(`--status ${opts.status}: use one of ${STATUSES.join(', ')}.`, 2);
  const client = connect(opts);
  const { deliveries } = await call(
    client.api.alerts.deliveries.$get({
      query: {
        ...(opts.status ? { status: opts.status as (typeof STATUSES)[number] } : {}),
        ...(opts.incident ? { incident: opts.incident } : {}),
      },
    }),
  );
  if (opts.json) return printJson(deliveries);
  if (deliveries.length === 0) return console.log('no deliveries');
  console.log(
    pad([
      ['ID', 'CREATED', 'KIND', 'CHANNEL', 'STATUS', 'ATTEMPTS', 'INCIDENT', 'LAST ERROR'],
      ...deliveries.map((d) => [
        d.id,
        d.createdAt,
        d.kind,
        d.channel,
        d.status,
        String(d.attempts),
        d.incidentId ?? '',
        d.lastError ?? '',
      ]),
    ]),
  );
}

export async function alertsSilence(
  policy: string,
  service: string,
  environment: string,
  opts: SilenceOptions,
): Promise<void> {
  if ((opts.for === undefined) === (opts.until === undefined))
    throw new CliError('Give exactly one of --for <duration> (such as 2h) or --until <RFC 3339 time>.', 2);
  const client = connect(opts);
  const s = await call(
    client.api.alerts.silences.$post({
      json: {
        policy,
        service,
        environment,
        reason: opts.reason,
        ...(opts.for ? { duration: opts.for } : {}),
        ...(opts.until ? { endsAt: opts.until } : {}),
      },
    }),
  );
  if (opts.json) return printJson(s);
  console.log(
    `silence ${s.id} until ${s.endsAt}: ${s.policy} · ${s.service} · ${s.environment} (its end is announced)`,
  );
}

export async function alertsSilences(opts: AlertsOptions): Promise<void> {
  const client = connect(opts);
  const { silences } = await call(
    client.api.alerts.silences.$get({ query: opts.all ? { all: 'true' } : {} }),
  );
  if (opts.json) return printJson(silences);
  if (silences.length === 0) return console.log(opts.all ? 'no silences' : 'no active silences');
  console.log(
    pad([
      ['ID', 'POLICY', 'SERVICE', 'ENV', 'ENDS', 'BY', 'REASON'],
      ...silences.map((s) => [s.id, s.policy, s.service, s.environment, s.endsAt, s.createdBy, s.reason]),
    ]),
  );
}

export async function alertsUnsilence(id: string, opts: AlertsOptions): Promise<void> {
  const client = connect(opts);
  const s = await call(client.api.alerts.silences[':id'].$delete({ param: { id: segment(id) } }));
  if (opts.json) return printJson(s);
  console.log(`silence ${s.id} ended; its end is announced`);
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw new CliError(
      'Pipe the key on standard input: `printf %s "$KEY" | msp alerts secret set <name>`.',
      2,
    );
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

export async function alertsSecretSet(name: string, opts: AlertsOptions): Promise<void> {
  const value = await readStdin();
  if (value.length < 16)
    throw new CliError('The key is shorter than 16 characters: use a longer random one.', 2);
  const client = connect(opts);
  const r = await call(
    client.api.alerts.secrets[':id'].$put({ param: { id: segment(name) }, json: { value } }),
  );
  if (opts.json) return printJson(r);
  console.log(`secret ${r.name} stored`);
}

export async function alertsTest(channel: string, opts: AlertsOptions): Promise<void> {
  const client = connect(opts);
  const { deliveries } = await call(client.api.alerts.test.$post({ json: { channel } }));
  if (opts.json) return printJson(deliveries);
  for (const d of deliveries)
    console.log(`test notification queued to ${d.channel}: delivery ${d.id} (see \`msp alerts deliveries\`)`);
}
