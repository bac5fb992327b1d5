/** `msp access request|list|approve|deny|revoke` and `msp audit list|verify|evidence`. */
import type { Command } from 'commander';
import { action } from '../cli-support.js';
import type { CommonOptions } from './users.js';

const impl = () => import('./access-impl.js');

export interface AccessRequestOptions extends CommonOptions {
  role: string;
  for: string;
  reason: string;
  breakGlass?: boolean;
}
export interface AccessListOptions extends CommonOptions {
  status?: string;
}
export interface DecisionOptions extends CommonOptions {
  reason?: string;
}
export interface AuditListOptions extends CommonOptions {
  since?: string;
  actor?: string;
  action?: string;
  limit: string;
}
export interface EvidenceOptions extends CommonOptions {
  from: string;
  to: string;
  out: string;
}

export function registerAccessCommands(program: Command): void {
  const common = (c: Command) =>
    c.option('--repo <dir>', 'platform repo of the running control plane').option('--json', 'print JSON');
  const access = program
    .command('access')
    .description('Time-bound, approved access to restricted (production) environments');
  common(
    access
      .command('request')
      .description('Ask for access; another person with an approving role approves it (msp access approve)')
      .argument('<target>', 'service id, instance id, or <env>/<instance>')
      .argument('<env>', 'the environment')
      .requiredOption('--role <role>', 'db-read, db-write or operate')
      .requiredOption('--for <duration>', "how long, at most the environment's access.maxGrantDuration")
      .requiredOption('--reason <text>', 'why (recorded with the grant)')
      .option('--break-glass', 'admins only: granted at once without approval, and announced loudly'),
  ).action(
    action(async (target: string, env: string, opts: AccessRequestOptions) =>
      (await impl()).accessRequest(target, env, opts),
    ),
  );
  common(
    access
      .command('list')
      .description('Requests and grants, newest first')
      .option('--status <status>', 'pending, approved, denied, revoked or expired'),
  ).action(action(async (opts: AccessListOptions) => (await impl()).accessList(opts)));
  for (const [name, what] of [
    ['approve', 'Approve a pending request (not your own)'],
    ['deny', 'Deny a pending request'],
    ['revoke', 'End a grant now: its database credentials are dropped and their sessions ended'],
  ] as const) {
    common(
      access
        .command(name)
        .description(what)
        .argument('<id>', 'as `msp access list` shows it')
        .option('--reason <text>', 'why'),
    ).action(
      action(async (id: string, opts: DecisionOptions) => (await impl()).accessDecide(name, id, opts)),
    );
  }

  const oidcSecret = access
    .command('oidc-secret')
    .description("The OIDC client's secret (dashboard sign-in)");
  common(
    oidcSecret
      .command('set')
      .description('Store the secret access.oidc.clientSecret names, read from standard input (admin)')
      .argument('<name>', "msp.yaml's access.oidc.clientSecret"),
  ).action(action(async (name: string, opts: CommonOptions) => (await impl()).oidcSecretSet(name, opts)));

  const audit = program
    .command('audit')
    .description('The hash-chained audit log: who did what, and evidence');
  common(
    audit
      .command('list')
      .description('Audit records, newest first')
      .option('--since <time>', 'a duration back from now (1h) or an RFC 3339 time / date')
      .option('--actor <name>', 'only what this person (or reconciler, scheduler, system) did')
      .option('--action <prefix>', 'only actions starting so, e.g. access. or operation.')
      .option('--limit <n>', 'how many', '100'),
  ).action(action(async (opts: AuditListOptions) => (await impl()).auditList(opts)));
  common(
    audit.command('verify').description('Check the whole hash chain; names the first broken record'),
  ).action(action(async (opts: CommonOptions) => (await impl()).auditVerify(opts)));
  common(
    audit
      .command('evidence')
      .description('Write SOC 2 evidence of a period (changes, grants, backups, drills) as JSON and Markdown')
      .requiredOption('--from <date>', 'start (2026-12-01 or an RFC 3339 time)')
      .requiredOption('--to <date>', 'end, exclusive')
      .requiredOption('--out <dir>', 'folder to write the files into'),
  ).action(action(async (opts: EvidenceOptions) => (await impl()).auditEvidence(opts)));
}
