/**
 * Evidence for a SOC 2 audit period, as JSON and Markdown: changes to restricted (production) environments
 * with who asked and who approved (change management), access grants with approver and duration (access
 * control), backups taken, retention runs and the latest good restore drill per database (A1.3). Every
 * file names the audit chain head it was cut from and whether the chain verified.
 */
import type { Db } from '../state/db.js';
import type { AuditLog } from './log.js';

export interface EvidenceFile {
  name: string;
  content: string;
}

interface Chain {
  head: string;
  records: number;
  verified: boolean;
  broken?: { seq: number; problem: string } | undefined;
}

const iso = (v: unknown): string | null =>
  v == null ? null : v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : JSON.stringify(v);

async function rows(db: Db, sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
  try {
    return (await db.query(sql, params)).rows;
  } catch (error) {
    // A feature that is not installed (no backups tables): nothing of it to report.
    if ((error as { code?: string }).code === '42P01') return [];
    throw error;
  }
}

/** Environments whose access is restricted, by the specs of their deployments. */
async function restrictedEnvironments(db: Db): Promise<Set<string>> {
  const envs = new Set<string>();
  for (const r of await rows(db, 'select environment, spec from deployments', [])) {
    const cfg = (r.spec as { envConfig?: { category?: string; access?: { restricted?: boolean } } } | null)
      ?.envConfig;
    if (cfg?.access?.restricted ?? cfg?.category !== 'test') envs.add(r.environment as string);
  }
  return envs;
}

export async function collectEvidence(db: Db, audit: AuditLog, from: Date, to: Date) {
  const verify = await audit.verify();
  const chain: Chain = {
    head: verify.head,
    records: verify.records,
    verified: verify.ok,
    broken: verify.broken,
  };
  const period = { from: from.toISOString(), to: to.toISOString() };
  const restricted = await restrictedEnvironments(db);
  const grants = (
    await rows(
      db,
      `select * from access_requests where starts_at is not null
          and ((created_at >= $1 and created_at < $2) or (starts_at >= $1 and starts_at < $2)) order by created_at`,
      [period.from, period.to],
    )
  ).map((g) => ({
    id: g.id as string,
    requester: g.requester as string,
    target: g.target as string,
    environment: g.environment as string,
    role: g.role as string,
    reason: g.reason as string,
    breakGlass: g.break_glass as boolean,
    status: g.status as string,
    requestedAt: iso(g.created_at),
    approver: (g.decided_by as string | null) ?? null,
    decidedAt: iso(g.decided_at),
    durationSeconds: Number(g.duration_seconds),
    startsAt: iso(g.starts_at),
    endsAt: iso(g.ends_at),
    revokedBy: (g.revoked_by as string | null) ?? null,
    revokedAt: iso(g.revoked_at),
  }));
  const allGrants = await rows(db, 'select * from access_requests where starts_at is not null', []);
  const changes = (
    await rows(
      db,
      `select o.*, d.environment as env, d.service as svc, d.instance as inst from operations o
         left join deployments d on d.key = o.deployment_key
        where o.created_at >= $1 and o.created_at < $2 order by o.created_at`,
      [period.from, period.to],
    )
  )
    .map((o) => ({ o, env: (o.env as string | null) ?? String(o.deployment_key).split('/')[1] ?? '' }))
    .filter(
      ({ o, env }) =>
        restricted.has(env) && !['backup', 'verify-backup', 'restore-drill'].includes(o.kind as string),
    )
    .map(({ o, env }) => {
      const at = Date.parse(iso(o.created_at)!);
      const grant = allGrants.find(
        (g) =>
          g.requester === o.created_by &&
          g.environment === env &&
          g.role === 'operate' &&
          [o.svc, o.deployment_key, o.inst, `${env}/${String(o.inst)}`].includes(g.target) &&
          Date.parse(iso(g.starts_at)!) <= at &&
          at < Date.parse(iso(g.revoked_at) ?? iso(g.ends_at)!),
      );
      const system = ['reconciler', 'scheduler'].includes(o.created_by as string);
      return {
        operation: o.id as string,
        kind: o.kind as string,
        deployment: o.deployment_key as string,
        environment: env,
        status: o.status as string,
        reason: o.reason as string,
        requestedBy: o.created_by as string,
        requestedAt: iso(o.created_at),
        finishedAt: iso(o.finished_at),
        approvedBy: grant ? ((grant.decided_by as string) ?? null) : null,
        approvedAt: grant ? iso(grant.decided_at) : null,
        grant: grant ? (grant.id as string) : null,
        authority: grant
          ? grant.break_glass
            ? 'break-glass grant'
            : 'approved grant'
          : system
            ? 'platform repo (reviewed change, applied by the control plane)'
            : 'bootstrap admin (no grant)',
      };
    });
  const backups = (
    await rows(
      db,
      `select id, deployment_key, type, kind, status, started_at, finished_at, stored_bytes from backups
        where started_at >= $1 and started_at < $2 order by started_at`,
      [period.from, period.to],
    )
  ).map((b) => ({
    id: b.id as string,
    deployment: b.deployment_key as string,
    type: b.type as string,
    kind: b.kind as string,
    status: b.status as string,
    startedAt: iso(b.started_at),
    finishedAt: iso(b.finished_at),
    storedBytes: b.stored_bytes == null ? null : Number(b.stored_bytes),
  }));
  const retention = (
    await rows(
      db,
      `select id, deployment_key, status, finished_at, created_by from operations
        where kind = 'retention' and created_at >= $1 and created_at < $2 order by created_at`,
      [period.from, period.to],
    )
  ).map((o) => ({
    operation: o.id as string,
    deployment: o.deployment_key as string,
    status: o.status as string,
    finishedAt: iso(o.finished_at),
    by: o.created_by as string,
  }));
  const drills = (
    await rows(
      db,
      `select distinct on (deployment_key) deployment_key, id, backup_id, started_at, finished_at, ok from backup_drills
        where ok and started_at >= $1 and started_at < $2 order by deployment_key, started_at desc`,
      [period.from, period.to],
    )
  ).map((d) => ({
    deployment: d.deployment_key as string,
    drill: Number(d.id),
    backup: (d.backup_id as string | null) ?? null,
    startedAt: iso(d.started_at),
    finishedAt: iso(d.finished_at),
  }));
  return { chain, period, changes, grants, backups, retention, drills };
}

export type Evidence = Awaited<ReturnType<typeof collectEvidence>>;

function table(header: string[], body: Array<Array<unknown>>): string {
  const cell = (v: unknown) =>
    (v == null ? '—' : typeof v === 'string' ? v : JSON.stringify(v))
      .replaceAll('|', '\\|')
      .replaceAll('\n', ' ');
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...body.map((r) => `| ${r.map(cell).join(' | ')} |`),
    ...(body.length === 0 ? ['', '_None in this period._'] : []),
  ].join('\n');
}

/** The evidence as files: one JSON and one Markdown file per control, each naming the chain head. */
export function evidenceFiles(e: Evidence): EvidenceFile[] {
  const head = (title: string) =>
    `# ${title}\n\nPeriod: ${e.period.from} to ${e.period.to}\n\n` +
    `Cut from the audit log at chain head \`${e.chain.head}\` (${e.chain.records} records, chain ${e.chain.verified ? 'verified' : `BROKEN at record ${e.chain.broken?.seq}`}).\n\n`;
  const json = (name: string, data: unknown) => ({
    name: `${name}.json`,
    content: JSON.stringify({ period: e.period, chain: e.chain, [name]: data }, null, 2) + '\n',
  });
  return [
    json('changes', e.changes),
    {
      name: 'changes.md',
      content:
        head('Change management: changes to production') +
        table(
          [
            'When',
            'Operation',
            'Deployment',
            'Status',
            'Requested by',
            'Approved by',
            'Approved at',
            'Authority',
          ],
          e.changes.map((c) => [
            c.requestedAt,
            `${c.kind} ${c.operation}`,
            c.deployment,
            c.status,
            c.requestedBy,
            c.approvedBy,
            c.approvedAt,
            c.authority,
          ]),
        ) +
        '\n',
    },
    json('grants', e.grants),
    {
      name: 'grants.md',
      content:
        head('Access control: grants') +
        table(
          ['Requested', 'Id', 'Who', 'Role', 'Target', 'Approver', 'Duration (s)', 'Status', 'Reason'],
          e.grants.map((g) => [
            g.requestedAt,
            g.id,
            g.requester,
            g.role,
            `${g.target} (${g.environment})`,
            g.breakGlass ? `${g.approver} (break-glass)` : g.approver,
            g.durationSeconds,
            g.status,
            g.reason,
          ]),
        ) +
        '\n',
    },
    json('backups', { backups: e.backups, retention: e.retention, drills: e.drills }),
    {
      name: 'backups.md',
      content:
        head('Backup and recovery (A1.3)') +
        '## Backups taken\n\n' +
        table(
          ['Started', 'Id', 'Deployment', 'Type', 'Kind', 'Status'],
          e.backups.map((b) => [b.startedAt, b.id, b.deployment, b.type, b.kind, b.status]),
        ) +
        '\n\n## Retention applied\n\n' +
        table(
          ['Finished', 'Operation', 'Deployment', 'Status', 'By'],
          e.retention.map((r) => [r.finishedAt, r.operation, r.deployment, r.status, r.by]),
        ) +
        '\n\n## Latest successful restore drill per database\n\n' +
        table(
          ['Deployment', 'Drill', 'Backup', 'Finished'],
          e.drills.map((d) => [d.deployment, d.drill, d.backup, d.finishedAt]),
        ) +
        '\n',
    },
  ];
}
