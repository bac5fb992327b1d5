/** The work of `msp instance …`, loaded only when it runs. */
import type { Operation } from '@msp/core';
import { CliError, printJson } from '../cli-support.js';
import { call, connect, segment, type ControlPlaneClient } from '../client.js';
import type { InstanceCreateOptions, InstanceOptions, InstanceRestoreOptions } from './instance.js';

/** `<env>/<id>`, `<id> --env <env>`, or an id unique across environments. */
export async function resolveInstance(
  client: ControlPlaneClient,
  ref: string,
  env: string | undefined,
): Promise<{ env: string; id: string }> {
  const parts = ref.replace(/^instance\//, '').split('/');
  if (parts.length === 2) return { env: parts[0]!, id: parts[1]! };
  if (parts.length !== 1) throw new CliError(`'${ref}' is not an instance: write <env>/<id> or <id>.`, 2);
  if (env) return { env, id: ref };
  const { instances } = await call(client.api.instances.$get({ query: {} }));
  const found = instances.filter((i) => i.id === ref);
  if (found.length === 1) return { env: found[0]!.env, id: ref };
  throw new CliError(
    found.length > 1
      ? `Instance ${ref} exists in ${found.map((i) => i.env).join(' and ')}: write <env>/${ref}.`
      : `No instance ${ref}; instances: ${instances.map((i) => `${i.env}/${i.id}`).join(', ') || 'none'}.`,
    2,
  );
}

const seconds = (a?: string, b?: string) =>
  a && b ? `${((Date.parse(b) - Date.parse(a)) / 1000).toFixed(1)} s` : '';

/** Follows a playbook's operation, a line per step with its timing; exit 1 when it failed. */
async function follow(client: ControlPlaneClient, op: Operation, json: boolean | undefined): Promise<void> {
  if (!json) process.stderr.write(`${op.kind} ${op.deploymentKey}: operation ${op.id}\n`);
  const printed = new Set<string>();
  for (;;) {
    const now = await call(client.api.operations[':id'].$get({ param: { id: segment(op.id) } }));
    if (!json) {
      for (const s of now.steps) {
        if (s.status !== 'succeeded' && s.status !== 'failed' && s.status !== 'skipped') continue;
        if (printed.has(s.name)) continue;
        printed.add(s.name);
        const mark = s.status === 'failed' ? '✗' : s.detail?.startsWith('skipped') ? '-' : '✓';
        process.stderr.write(
          `  ${mark} ${s.name.padEnd(20)} ${seconds(s.startedAt, s.finishedAt).padStart(8)}  ${s.detail ?? ''}\n`,
        );
      }
    }
    if (now.status === 'succeeded' || now.status === 'failed') {
      if (json) printJson(now);
      if (now.status === 'failed') throw new CliError(`${now.kind} failed: ${now.error ?? ''}`, 1);
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function queued(client: ControlPlaneClient, result: unknown, opts: InstanceOptions): Promise<void> {
  const r = result as
    | (Operation & { dryRun?: undefined })
    | { dryRun: true; steps: string[]; summary: string; config?: unknown };
  if (r.dryRun) {
    if (opts.json) return printJson(r);
    console.log(`dry run: ${r.summary}`);
    console.log(`steps: ${r.steps.join(' → ')}`);
    if (r.config) console.log(`config.yaml:\n${JSON.stringify(r.config, null, 2)}`);
    return;
  }
  if (opts.wait === false) return opts.json ? printJson(r) : console.log(`queued: operation ${r.id}`);
  await follow(client, r, opts.json);
}

export async function create(ref: string, opts: InstanceCreateOptions): Promise<void> {
  const client = connect(opts);
  const [env, id] = ref.includes('/') ? ref.split('/') : [opts.env, ref];
  if (!env) throw new CliError('Say where: --env <env> or <env>/<id>.', 2);
  if (!['internal', 'trial', 'production'].includes(opts.type)) {
    throw new CliError(`--type ${opts.type}: internal, trial or production.`, 2);
  }
  const result = await call(
    client.api.instances.$post({
      json: {
        id: id,
        env,
        customer: opts.customer,
        type: opts.type as 'internal' | 'trial' | 'production',
        ...(opts.service ? { service: opts.service } : {}),
        ...(opts.version ? { version: opts.version } : {}),
        ...(opts.domain ? { domain: opts.domain } : {}),
        ...(opts.adminEmail ? { adminEmail: opts.adminEmail } : {}),
        ...(opts.feature.length ? { features: opts.feature } : {}),
        ...(opts.ttl ? { ttl: opts.ttl } : {}),
        ...(opts.region ? { region: opts.region } : {}),
        ...(opts.license ? { license: opts.license } : {}),
        ...(opts.dryRun ? { dryRun: true } : {}),
      },
    }),
  );
  await queued(client, result, opts);
}

export async function list(opts: InstanceOptions): Promise<void> {
  const client = connect(opts);
  const { instances } = await call(client.api.instances.$get({ query: opts.env ? { env: opts.env } : {} }));
  if (opts.json) return printJson(instances);
  if (instances.length === 0) return console.log('no instances');
  console.log(['INSTANCE', 'CUSTOMER', 'TYPE', 'VERSION', 'HEALTH', 'LAST BACKUP', 'TTL'].join('\t'));
  for (const i of instances) {
    console.log(
      [
        `${i.env}/${i.id}`,
        i.customer,
        i.type,
        i.release && i.release !== i.version ? `${i.version} (runs ${i.release})` : i.version,
        i.runningOperation ? `${i.status} (${i.runningOperation.kind})` : i.status,
        i.lastBackup ? `${i.lastBackup.finishedAt} ${i.lastBackup.kind}` : '-',
        i.expiresAt ? `expires ${i.expiresAt}` : '-',
      ].join('\t'),
    );
  }
}

export async function show(ref: string, opts: InstanceOptions): Promise<void> {
  const client = connect(opts);
  const { env, id } = await resolveInstance(client, ref, opts.env);
  const r = await call(client.api.instances[':env'][':id'].$get({ param: { env, id } }));
  if (opts.json) return printJson(r);
  const i = r.instance;
  console.log(
    `${i.env}/${i.id}: ${i.service} ${i.version} for ${i.customer} (${i.type}, channel ${i.channel})`,
  );
  console.log(
    `  health: ${i.status}${i.statusDetail ? ` (${i.statusDetail})` : ''}; runs ${i.release ?? 'nothing'}`,
  );
  console.log(`  domain: ${i.domain}`);
  console.log(`  last backup: ${i.lastBackup ? `${i.lastBackup.id} at ${i.lastBackup.finishedAt}` : 'none'}`);
  console.log(`  TTL: ${i.expiresAt ? `${i.ttl}, expires ${i.expiresAt}` : 'none'}`);
  console.log('  operations:');
  for (const o of r.operations)
    console.log(`    ${o.createdAt} ${o.kind} ${o.status} ${o.id}${o.error ? `: ${o.error}` : ''}`);
  console.log('  events:');
  for (const e of r.events.slice(0, 10)) console.log(`    ${e.at} ${e.kind}: ${e.message}`);
}

export async function upgrade(ref: string, opts: InstanceOptions & { to: string }): Promise<void> {
  const client = connect(opts);
  const { env, id } = await resolveInstance(client, ref, opts.env);
  const result = await call(
    client.api.instances[':env'][':id'].upgrade.$post({
      param: { env, id },
      json: { to: opts.to, ...(opts.dryRun ? { dryRun: true } : {}) },
    }),
  );
  await queued(client, result, opts);
}

export async function remove(ref: string, opts: InstanceOptions & { confirm?: string }): Promise<void> {
  const client = connect(opts);
  const { env, id } = await resolveInstance(client, ref, opts.env);
  const result = await call(
    client.api.instances[':env'][':id'].delete.$post({
      param: { env, id },
      json: { ...(opts.confirm ? { confirm: opts.confirm } : {}), ...(opts.dryRun ? { dryRun: true } : {}) },
    }),
  );
  await queued(client, result, opts);
}

export async function restore(ref: string, opts: InstanceRestoreOptions): Promise<void> {
  const client = connect(opts);
  const { env, id } = await resolveInstance(client, ref, opts.env);
  if (!opts.inPlace === !opts.into)
    throw new CliError('Say where to restore: --in-place or --into <new-id>.', 2);
  const op = await call(
    client.api.restores.$post({
      json: {
        deployment: `instance/${env}/${id}`,
        ...(opts.to ? { to: opts.to } : {}),
        ...(opts.backup ? { backup: opts.backup } : {}),
        ...(opts.latest ? { latest: true } : {}),
        ...(opts.inPlace ? { inPlace: true } : {}),
        ...(opts.into ? { into: opts.into } : {}),
      },
    }),
  );
  await follow(client, op, opts.json);
}

export async function extend(ref: string, opts: InstanceOptions & { ttl: string }): Promise<void> {
  const client = connect(opts);
  const { env, id } = await resolveInstance(client, ref, opts.env);
  const i = await call(
    client.api.instances[':env'][':id'].extend.$post({ param: { env, id }, json: { ttl: opts.ttl } }),
  );
  if (opts.json) return printJson(i);
  console.log(`${i.env}/${i.id} now expires at ${i.expiresAt}`);
}
