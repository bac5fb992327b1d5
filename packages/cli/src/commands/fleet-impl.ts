/** The work of `msp fleet …`, loaded only when it runs. */
import { CliError, printJson } from '../cli-support.js';
import { call, connect, segment } from '../client.js';
import type { FleetOptions, FleetUpgradeOptions } from './fleet.js';

interface Member {
  ring: number;
  ringName: string;
  env: string;
  id: string;
  from: string;
  to: string;
  state: string;
  reason: string | null;
  operationId: string | null;
}
interface FleetView {
  id: string;
  status: string;
  toVersion: string;
  stopReason: string | null;
  members: Member[];
}

function print(f: FleetView): void {
  console.log(`fleet ${f.id}: to ${f.toVersion}, ${f.status}${f.stopReason ? ` (${f.stopReason})` : ''}`);
  for (const m of f.members) {
    console.log(
      `  ring ${m.ring + 1} ${m.ringName.padEnd(10)} ${`${m.env}/${m.id}`.padEnd(28)} ${m.from} → ${m.to}  ${m.state}${m.operationId ? `  ${m.operationId}` : ''}${m.reason ? `  ${m.reason.split('\n')[0]}` : ''}`,
    );
  }
}

export async function upgrade(opts: FleetUpgradeOptions): Promise<void> {
  const client = connect(opts);
  const concurrency = opts.concurrency === undefined ? undefined : Number(opts.concurrency);
  if (concurrency !== undefined && !Number.isInteger(concurrency)) {
    throw new CliError(`--concurrency ${opts.concurrency}: a whole number.`, 2);
  }
  for (const t of opts.type) {
    if (!['internal', 'trial', 'production'].includes(t))
      throw new CliError(`--type ${t}: internal, trial or production.`, 2);
  }
  const r = await call(
    client.api.fleets.$post({
      json: {
        to: opts.to,
        ...(opts.env ? { env: opts.env } : {}),
        ...(opts.type.length ? { types: opts.type as Array<'internal' | 'trial' | 'production'> } : {}),
        ...(opts.filter.length ? { filters: opts.filter } : {}),
        ...(concurrency !== undefined ? { concurrency } : {}),
        ...(opts.soak ? { soak: opts.soak } : {}),
        ...(opts.now ? { now: true } : {}),
        ...(opts.reason ? { nowReason: opts.reason } : {}),
        ...(opts.dryRun ? { dryRun: true } : {}),
      },
    }),
  );
  if (opts.json) return printJson(r);
  if (r.dryRun) console.log('dry run: nothing changed; the plan:');
  print(r.fleet);
  if (!r.dryRun) console.log(`follow it with \`msp fleet show ${r.fleet.id}\``);
}

export async function list(opts: FleetOptions): Promise<void> {
  const { fleets } = await call(connect(opts).api.fleets.$get());
  if (opts.json) return printJson(fleets);
  for (const f of fleets)
    console.log(`${f.id}  to ${f.toVersion}  ${f.status}  ${f.members.length} instance(s)  ${f.createdAt}`);
}

export async function show(id: string, opts: FleetOptions): Promise<void> {
  const f = await call(connect(opts).api.fleets[':id'].$get({ param: { id: segment(id) } }));
  if (opts.json) return printJson(f);
  print(f);
}

export async function report(id: string, opts: FleetOptions): Promise<void> {
  const r = await call(connect(opts).api.fleets[':id'].report.$get({ param: { id: segment(id) } }));
  if (opts.json) return printJson(r);
  process.stdout.write(r.markdown);
}

export async function pause(id: string, opts: FleetOptions): Promise<void> {
  const f = await call(connect(opts).api.fleets[':id'].pause.$post({ param: { id: segment(id) }, json: {} }));
  if (opts.json) return printJson(f);
  print(f);
}

export async function resume(id: string, opts: FleetOptions): Promise<void> {
  const f = await call(
    connect(opts).api.fleets[':id'].resume.$post({ param: { id: segment(id) }, json: {} }),
  );
  if (opts.json) return printJson(f);
  print(f);
}
