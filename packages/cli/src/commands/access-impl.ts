import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseDuration } from '@msp/core';
import { CliError, printJson } from '../cli-support.js';
import { call, connect, segment } from '../client.js';
import type {
  AccessListOptions,
  AccessRequestOptions,
  AuditListOptions,
  DecisionOptions,
  EvidenceOptions,
} from './access.js';
import type { CommonOptions } from './users.js';
import { pad } from './users-impl.js';

const client = (opts: CommonOptions) => connect(opts.repo ? { repo: opts.repo } : {});
type GrantRole = 'db-read' | 'db-write' | 'operate';
type Status = 'pending' | 'approved' | 'denied' | 'revoked' | 'expired';

export async function accessRequest(target: string, env: string, opts: AccessRequestOptions): Promise<void> {
  if (!['db-read', 'db-write', 'operate'].includes(opts.role)) {
    throw new CliError(`--role ${opts.role}: give db-read, db-write or operate.`, 2);
  }
  const row = await call(
    client(opts).api.access.requests.$post({
      json: {
        target,
        environment: env,
        role: opts.role as GrantRole,
        duration: opts.for,
        reason: opts.reason,
        ...(opts.breakGlass ? { breakGlass: true } : {}),
      },
    }),
  );
  if (opts.json) return printJson(row);
  if (row.breakGlass) {
    console.log(
      `BREAK-GLASS grant ${row.id}: ${row.role} on ${row.target} in ${row.environment} until ${row.endsAt} (announced)`,
    );
  } else {
    console.log(
      `request ${row.id} is pending: another person approves it with \`msp access approve ${row.id}\``,
    );
  }
}

export async function accessList(opts: AccessListOptions): Promise<void> {
  const { requests } = await call(
    client(opts).api.access.requests.$get({ query: opts.status ? { status: opts.status as Status } : {} }),
  );
  if (opts.json) return printJson(requests);
  console.log(
    pad([
      ['ID', 'STATUS', 'WHO', 'ROLE', 'TARGET', 'ENV', 'UNTIL', 'DECIDED BY', 'REASON'],
      ...requests.map((r) => [
        r.id,
        r.breakGlass ? `${r.status} (break-glass)` : r.status,
        r.requester,
        r.role,
        r.target,
        r.environment,
        r.endsAt ?? `(${r.durationSeconds}s)`,
        r.decidedBy ?? '',
        r.reason,
      ]),
    ]),
  );
}

export async function accessDecide(
  kind: 'approve' | 'deny' | 'revoke',
  id: string,
  opts: DecisionOptions,
): Promise<void> {
  const route = client(opts).api.access.requests[':id'][kind];
  const row = await call(route.$post({ param: { id }, json: opts.reason ? { reason: opts.reason } : {} }));
  if (opts.json) return printJson(row);
  const done = { approve: 'approved', deny: 'denied', revoke: 'revoked' }[kind];
  console.log(
    `${row.id} ${done}${row.status === 'approved' ? `: ${row.requester} has ${row.role} on ${row.target} in ${row.environment} until ${row.endsAt}` : ''}`,
  );
}

export async function auditList(opts: AuditListOptions): Promise<void> {
  let since = opts.since;
  if (since && !/^\d{4}-/.test(since)) {
    try {
      since = new Date(Date.now() - parseDuration(since)).toISOString();
    } catch {
      throw new CliError(
        `--since ${opts.since}: give a duration back from now (1h, 2d) or an RFC 3339 time.`,
        2,
      );
    }
  }
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw new CliError(`--limit ${opts.limit}: give a whole number from 1.`, 2);
  const { records } = await call(
    client(opts).api.audit.$get({
      query: {
        ...(since ? { since } : {}),
        ...(opts.actor ? { actor: opts.actor } : {}),
        ...(opts.action ? { action: opts.action } : {}),
        limit,
      },
    }),
  );
  if (opts.json) return printJson(records);
  console.log(
    pad([
      ['SEQ', 'AT', 'ACTOR', 'ACTION', 'TARGET'],
      ...records.map((r) => [String(r.seq), r.at, r.actor, r.action, r.target ?? '']),
    ]),
  );
}

export async function auditVerify(opts: CommonOptions): Promise<void> {
  const result = await call(client(opts).api.audit.verify.$get());
  if (opts.json) printJson(result);
  else if (result.ok) console.log(`audit log intact: ${result.records} records, head ${result.head}`);
  if (!result.ok) {
    throw new CliError(
      `audit chain broken at record ${result.broken!.seq}: ${result.broken!.problem} (${result.records} records before it verify)`,
      1,
    );
  }
}

export async function auditEvidence(opts: EvidenceOptions): Promise<void> {
  const { head, files } = await call(
    client(opts).api.audit.evidence.$get({ query: { from: opts.from, to: opts.to } }),
  );
  const dir = resolve(opts.out);
  await mkdir(dir, { recursive: true });
  for (const f of files) await writeFile(join(dir, f.name), f.content);
  if (opts.json) return printJson({ dir, head, files: files.map((f) => f.name) });
  console.log(`wrote ${files.length} files to ${dir} (audit chain head ${head})`);
}

export async function oidcSecretSet(name: string, opts: CommonOptions): Promise<void> {
  if (process.stdin.isTTY)
    throw new CliError(
      'Pipe the secret on standard input: `printf %s "$SECRET" | msp access oidc-secret set <name>`.',
      2,
    );
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const value = Buffer.concat(chunks).toString('utf8').trim();
  if (!value) throw new CliError('No secret on standard input.', 2);
  const r = await call(
    client(opts).api.access['oidc-secrets'][':name'].$put({
      param: { name: segment(name) },
      json: { value },
    }),
  );
  if (opts.json) return printJson(r);
  console.log(`OIDC client secret ${r.name} stored`);
}
