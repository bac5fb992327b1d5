/**
 * The operations handbook page of one service, in the order of the original platform's pages: notice,
 * introduction, service overview, README, rollouts, each environment, alert policies.
 */
import { posix } from 'node:path';
import { alertChannels, alertPoliciesFor, type AlertPolicy } from '@msp/core';
import { isProduction } from '@msp/spec';
import type {
  EnvironmentConfig,
  InstanceConfig,
  LoadedService,
  PlatformRepo,
  ServiceEnvironment,
} from '@msp/spec';
import type { ArchitectureModel } from './diagram.js';
import {
  channelLink,
  mspLink,
  repoFileUrl,
  sourceRepoUrl,
  supportSentence,
  type LinkContext,
} from './links.js';
import { anchor, cell, code, codeBlock, document, link, propertyTable, table } from './markdown.js';

export const REGENERATE_COMMAND = 'msp operations generate-handbook-pages';

export interface PageContext extends LinkContext {
  readonly repo: PlatformRepo;
  /** RFC 3339, UTC. */
  readonly generatedAt: string;
  readonly revision: string;
}

/** One environment of a service, with everything a page and a diagram need about it. */
export interface EnvironmentView {
  readonly env: ServiceEnvironment;
  readonly config: EnvironmentConfig | undefined;
  readonly policies: readonly AlertPolicy[];
  readonly channels: readonly string[];
  readonly instances: readonly InstanceConfig[];
}

/** The HTML comment every generated file opens with. */
export function generatedNotice(ctx: PageContext): string {
  const source =
    ctx.platform.links.repository === undefined
      ? `the platform repo at revision ${ctx.revision}`
      : `${ctx.platform.links.repository} at revision ${ctx.revision}`;
  return [
    '<!--',
    `Generated documentation; DO NOT EDIT. Regenerate using this command: '${REGENERATE_COMMAND}'`,
    '',
    `Last updated: ${ctx.generatedAt}`,
    `Generated from: ${source}`,
    '-->',
  ].join('\n');
}

export function environmentViews(ctx: PageContext, service: LoadedService): EnvironmentView[] {
  const id = service.spec.service.id;
  return service.spec.environments.map((env) => {
    const config = ctx.platform.environments.find((e) => e.id === env.id);
    const options = {
      channels: config?.notifications.channels ?? [],
      ...(ctx.platform.notifications.sharedChannel !== undefined
        ? { sharedChannel: ctx.platform.notifications.sharedChannel }
        : {}),
      runtime: config?.runtime ?? 'local',
    };
    if (options.channels.length === 0) delete (options as { channels?: unknown }).channels;
    return {
      env,
      config,
      policies: alertPoliciesFor(service.spec, env, options),
      channels: alertChannels(id, env.id, options),
      instances: ctx.repo.instances.filter((i) => i.service === id && i.environment === env.id),
    };
  });
}

export function diagramPath(serviceId: string, envId: string): string {
  return `${serviceId}-${envId}.svg`;
}

export function architectureModel(service: LoadedService, view: EnvironmentView): ArchitectureModel {
  const { spec } = service;
  const { env } = view;
  const pg = env.resources.postgreSQL;
  return {
    service: { id: spec.service.id, name: spec.service.name, kind: spec.service.kind },
    environment: { id: env.id, category: env.category, runtime: view.config?.runtime ?? 'local' },
    ...(env.domain !== undefined ? { domain: env.domain } : {}),
    workload: {
      minCount: env.instances.scaling.minCount,
      maxCount: env.instances.scaling.maxCount,
      cpu: env.instances.resources.cpu,
      memory: env.instances.resources.memory,
    },
    ...(pg !== undefined
      ? {
          postgreSQL: {
            databases: pg.databases,
            cpu: pg.cpu,
            memoryGB: pg.memoryGB,
            maxConnections: pg.maxConnections,
            highAvailability: pg.highAvailability,
          },
        }
      : {}),
    volumes: env.resources.volumes.map((v) => ({ name: v.name, sizeGB: v.sizeGB })),
    alerting: {
      policies: view.policies.length,
      channels: view.channels,
      pagesOwners: view.policies.some((p) => p.notify.page),
    },
  };
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function envAnchors(envs: readonly { id: string }[], page = ''): string {
  return envs.map((e) => link(e.id, `${page}#${anchor(e.id)}`)).join(', ');
}

function serviceKind(service: LoadedService): string {
  const { kind, protocol } = service.spec.service;
  if (kind === 'job') return 'Scheduled job';
  return protocol === 'h2c' ? 'Service (gRPC over h2c)' : 'Service (HTTP)';
}

function overview(ctx: PageContext, service: LoadedService): string {
  const { spec, specFile } = service;
  const build = spec.build;
  const source =
    build.source !== undefined
      ? `${link(build.source.repo, sourceRepoUrl(build.source.repo))} - ${code(build.source.dir)}`
      : build.local !== undefined
        ? `${code(posix.normalize(posix.join(posix.dirname(specFile), build.local.dir)))} (local build, relative to the platform repo; started with ${code(build.local.command.join(' '))})`
        : 'not declared';
  return [
    '## Service overview',
    propertyTable([
      ['Service ID', `${code(spec.service.id)} (${link('specification', repoFileUrl(ctx, specFile))})`],
      ['Owners', spec.service.owners.map((o) => `**${cell(o)}**`).join(', ')],
      ['Service kind', serviceKind(service)],
      ['Environments', envAnchors(spec.environments)],
      ['Image', build.image !== undefined ? code(build.image) : 'not declared'],
      ['Source code', cell(source)],
    ]),
  ].join('\n\n');
}

/** The service README without its `# title` line (the page has its own title). */
export function readmeBody(readme: string | undefined): string | undefined {
  if (readme === undefined) return undefined;
  const lines = readme.replace(/\r\n/g, '\n').split('\n');
  const first = lines.findIndex((l) => l.trim().length > 0);
  if (first >= 0 && /^#\s/.test(lines[first] ?? '')) lines.splice(0, first + 1);
  const body = lines.join('\n').trim();
  return body.length > 0 ? body : undefined;
}

function rollouts(service: LoadedService): string | undefined {
  const { spec } = service;
  const rollout = spec.rollout;
  if (rollout === undefined) return undefined;
  const id = spec.service.id;
  const stages = rollout.stages.map((s) => s.environment);
  const first = stages[0] ?? '';
  const rows: [string, string][] = [
    ['Delivery pipeline', code(`${id}-rollout`)],
    ['Stages', stages.map((s) => link(s, `#${anchor(s)}`)).join(' -> ')],
  ];
  if (rollout.suspended) rows.push(['Status', '**suspended**: releases and promotions are refused']);
  return [
    '## Rollouts',
    propertyTable(rows),
    `Changes to ${spec.service.name} are continuously delivered to the first stage (${link(first, `#${anchor(first)}`)}) of the delivery pipeline.`,
    stages.length > 1
      ? 'Promotion of a release to the next stage in the pipeline must be done manually, and moves the same artifact:'
      : 'The pipeline has a single stage, so there is nothing to promote.',
    stages.length > 1 ? codeBlock('bash', `msp rollout promote ${id}`) : undefined,
  ]
    .filter((b): b is string => b !== undefined)
    .join('\n\n');
}

function resourceLinks(view: EnvironmentView): string {
  const { env } = view;
  const links: string[] = [];
  if (env.resources.postgreSQL !== undefined)
    links.push(link(`${env.id} PostgreSQL instance`, `#${anchor(`${env.id} PostgreSQL instance`)}`));
  if (env.resources.volumes.length > 0)
    links.push(link(`${env.id} volumes`, `#${anchor(`${env.id} volumes`)}`));
  if (env.resources.redis !== undefined) links.push(`Redis (${env.resources.redis.memoryGB} GB)`);
  return links.length > 0 ? links.join(', ') : 'none';
}

function environmentProperties(ctx: PageContext, service: LoadedService, view: EnvironmentView): string {
  const { env } = view;
  const scaling = env.instances.scaling;
  const instances =
    service.spec.service.kind === 'job'
      ? `job, ${env.instances.resources.cpu} CPU, ${env.instances.resources.memory}`
      : `${scaling.minCount}-${scaling.maxCount} instances, ${env.instances.resources.cpu} CPU, ${env.instances.resources.memory} each`;
  const production = isProduction(env.category);
  const paging = view.policies.some((p) => p.notify.page) ? '; CRITICAL alerts page the owners' : '';
  const rows: [string, string][] = [
    ['Category', `**${env.category}**${production ? ' (production)' : ''}`],
    ['Runtime', code(view.config?.runtime ?? 'local')],
    ['Deployment type', code(env.deploy.type)],
    ['Instances', instances],
    ['Resources', resourceLinks(view)],
    ['Notifications', view.channels.map((c) => channelLink(ctx, c)).join(', ')],
    ['Domain', env.domain !== undefined ? link(env.domain, `https://${env.domain}`) : 'none'],
    [
      'Alert policies',
      `${link(plural(view.policies.length, 'policy', 'policies'), '#alert-policies')}${paging}`,
    ],
  ];
  if (view.instances.length > 0)
    rows.push([
      'Managed instances',
      link(plural(view.instances.length, 'instance'), `#${anchor(`${env.id} managed instances`)}`),
    ]);
  return propertyTable(rows);
}

function access(ctx: PageContext, service: LoadedService, view: EnvironmentView): string {
  const id = service.spec.service.id;
  const { env } = view;
  const restricted = view.config?.access.restricted ?? isProduction(env.category);
  const requests = ctx.platform.links.accessRequests;
  if (!restricted) {
    return `Access to the ${env.id} environment is not restricted: operators have read and write access without a request. Test environments may have less stringent requirements.`;
  }
  const maxGrant = view.config?.access.maxGrantDuration ?? '8h';
  return [
    `Access to the ${env.id} environment is restricted: request time-bound access (at most ${maxGrant}) with \`msp access request\`${
      requests === undefined ? '' : `, or through the ${link('access request form', requests)}`
    }. A grant is approved by another operator, expires by itself and can be revoked early.`,
    table(
      ['ACCESS', 'HOW TO REQUEST IT'],
      [
        ['Read access', code(`msp access request ${id} ${env.id}`)],
        ['Write access', code(`msp access request --write-access ${id} ${env.id}`)],
      ],
    ),
  ].join('\n\n');
}

function runtimeWorkload(runtime: string): string {
  switch (runtime) {
    case 'kubernetes':
      return 'a Kubernetes Deployment behind an Ingress, its PostgreSQL cluster run by the CloudNativePG operator';
    case 'gcp':
      return 'a Cloud Run service on Google Cloud, its database on Cloud SQL';
    default:
      return 'supervised processes on the MSP host, behind the MSP proxy, that MSP starts, health-checks and restarts';
  }
}

function workload(service: LoadedService, view: EnvironmentView): string {
  const { spec } = service;
  const { env } = view;
  const probes = env.healthProbes;
  const rows: [string, string][] = [
    [
      'Health probes',
      probes === undefined
        ? 'none declared: a generous 240 s startup probe on `/`'
        : `${probes.healthzProbes ? '`/-/healthz`' : '`/`'}, timeout ${probes.timeout} s, startup every ${probes.startupInterval} s, liveness every ${probes.livenessInterval} s`,
    ],
  ];
  if (spec.service.kind === 'job' && env.schedule !== undefined)
    rows.push(['Schedule', `${code(env.schedule.cron)}, deadline ${env.schedule.deadlineSeconds} s`]);
  const envNames = Object.keys(env.env).sort();
  if (envNames.length > 0) rows.push(['Environment variables', envNames.map(code).join(', ')]);
  // Secrets by variable name only; what they hold stays out of the handbook.
  const secretNames = Object.keys(env.secretEnv).sort();
  if (secretNames.length > 0) rows.push(['Secret variables', secretNames.map(code).join(', ')]);
  return [
    `#### ${env.id} Workload`,
    `The ${spec.service.name} ${env.id} ${spec.service.kind} runs as ${runtimeWorkload(view.config?.runtime ?? 'local')}.`,
    propertyTable(rows),
    'Use `msp` to follow the service logs of every instance in this environment:',
    codeBlock('bash', `msp logs ${spec.service.id} ${env.id}`),
  ].join('\n\n');
}

function postgreSQL(service: LoadedService, view: EnvironmentView): string | undefined {
  const { env } = view;
  const pg = env.resources.postgreSQL;
  if (pg === undefined) return undefined;
  const id = service.spec.service.id;
  const backups = view.config?.backups;
  const restricted = view.config?.access.restricted ?? isProduction(env.category);
  return [
    `#### ${env.id} PostgreSQL instance`,
    propertyTable([
      [
        'Cluster',
        `${pg.cpu} CPU, ${pg.memoryGB} GB memory, at most ${pg.maxConnections} connections${pg.highAvailability ? ', high availability' : ''}`,
      ],
      ['Databases', pg.databases.map(code).join(', ')],
      [
        'Backups',
        backups === undefined
          ? 'continuous WAL archive and daily base backups'
          : `continuous WAL archive (archive timeout ${backups.archiveTimeoutSeconds} s), base backups ${code(backups.baseBackupCron)}`,
      ],
    ]),
    restricted
      ? '> [!NOTE]\n> An approved access grant is required for BOTH read-only and write access to the database: read access for `msp pg connect`, write access for `msp pg connect --write-access`.'
      : undefined,
    'To connect to the PostgreSQL instance in this environment, use `msp` in the platform repository:',
    codeBlock(
      'bash',
      `# For read-only access\nmsp pg connect ${id} ${env.id}\n\n# For write access - use with caution!\nmsp pg connect --write-access ${id} ${env.id}`,
    ),
  ]
    .filter((b): b is string => b !== undefined)
    .join('\n\n');
}

function volumes(view: EnvironmentView): string | undefined {
  const { env } = view;
  if (env.resources.volumes.length === 0) return undefined;
  return [
    `#### ${env.id} Volumes`,
    'Persistent disks the workload keeps state in. Each is snapshotted daily into the backup repository.',
    table(
      ['VOLUME', 'SIZE'],
      env.resources.volumes.map((v) => [code(v.name), `${v.sizeGB} GB`]),
    ),
  ].join('\n\n');
}

function managedInstances(view: EnvironmentView): string | undefined {
  if (view.instances.length === 0) return undefined;
  return [
    `#### ${view.env.id} Managed instances`,
    `Dedicated copies of this service, one per customer, deployed with the ${view.env.id} environment block above.`,
    instanceTable(view.instances),
  ].join('\n\n');
}

export function instanceTable(instances: readonly InstanceConfig[], withService = false): string {
  return table(
    [
      'INSTANCE',
      ...(withService ? ['SERVICE'] : []),
      'CUSTOMER',
      'TYPE',
      'VERSION',
      'CHANNEL',
      'DOMAIN',
      'TIME TO LIVE',
      'STATE',
    ],
    instances.map((i) => [
      code(i.id),
      ...(withService ? [link(i.service, `./${i.service}.md`)] : []),
      cell(i.customer),
      i.type,
      code(i.version),
      i.channel,
      link(i.domain, `https://${i.domain}`),
      i.ttl ?? '-',
      i.paused ? 'paused' : 'active',
    ]),
  );
}

function infrastructure(ctx: PageContext, service: LoadedService, view: EnvironmentView): string {
  const id = service.spec.service.id;
  const runtime = view.config?.runtime ?? 'local';
  const target =
    runtime === 'local'
      ? 'the local runtime (processes, proxy routes, PostgreSQL clusters and backup schedules on this machine)'
      : runtime === 'kubernetes'
        ? 'Kubernetes manifests'
        : 'Terraform configuration for Google Cloud';
  return [
    `#### ${view.env.id} Infrastructure`,
    `This service's configuration is defined in ${link(code(service.specFile), repoFileUrl(ctx, service.specFile))}, and \`msp generate ${id} ${view.env.id}\` generates the infrastructure configuration of this environment for ${target}:`,
    codeBlock('bash', `msp generate ${id} ${view.env.id}`),
  ].join('\n\n');
}

function environment(ctx: PageContext, service: LoadedService, view: EnvironmentView): string {
  const id = service.spec.service.id;
  return document([
    `### ${view.env.id}`,
    view.config?.description,
    environmentProperties(ctx, service, view),
    access(ctx, service, view),
    workload(service, view),
    postgreSQL(service, view),
    volumes(view),
    managedInstances(view),
    `#### ${view.env.id} Architecture Diagram\n\n![Architecture Diagram](./${diagramPath(id, view.env.id)})`,
    infrastructure(ctx, service, view),
  ]).trimEnd();
}

/** Compares strings by code unit, so the order never depends on the machine's locale. */
function byText(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0;
}

/** Policies of every environment, one entry per id (first environment wins), sorted by title. */
export function uniquePolicies(views: readonly EnvironmentView[]): AlertPolicy[] {
  const byId = new Map<string, AlertPolicy>();
  for (const view of views) for (const p of view.policies) if (!byId.has(p.id)) byId.set(p.id, p);
  return [...byId.values()].sort((a, b) => byText(a.title, b.title) || byText(a.id, b.id));
}

function alertPolicies(views: readonly EnvironmentView[]): string {
  const blocks = [
    '## Alert Policies',
    "The following alert policies are defined for this service's environments.",
  ];
  for (const p of uniquePolicies(views)) {
    const inEnvs = views.flatMap((v) => {
      const q = v.policies.find((x) => x.id === p.id);
      return q === undefined ? [] : [{ view: v, policy: q }];
    });
    blocks.push(`#### ${p.title}`);
    // Descriptions can name the environment's domain; show each distinct one, with where it applies.
    const descriptions = [...new Set(inEnvs.map((e) => e.policy.description))];
    if (descriptions.length === 1) blocks.push(codeBlock('md', p.description));
    else
      for (const description of descriptions) {
        const envs = inEnvs.filter((e) => e.policy.description === description).map((e) => e.view.env);
        blocks.push(`In ${envAnchors(envs)}:`, codeBlock('md', description));
      }
    const lines = [`Severity: ${p.severity}`];
    if (inEnvs.length < views.length)
      lines.push(`Environments: ${envAnchors(inEnvs.map((e) => e.view.env))}`);
    const paging = inEnvs.filter((e) => e.policy.notify.page).map((e) => e.view.env);
    if (paging.length > 0) lines.push(`Pages the owners in: ${envAnchors(paging)}`);
    blocks.push(lines.join('\n\n'));
  }
  return blocks.join('\n\n');
}

export function servicePage(
  ctx: PageContext,
  service: LoadedService,
  views: readonly EnvironmentView[],
): string {
  const { spec } = service;
  const name = spec.service.name;
  return document([
    `# ${name} infrastructure operations`,
    generatedNotice(ctx),
    `This document describes operational guidance for ${name} infrastructure.\nThis service is operated on the ${mspLink(ctx)}.`,
    supportSentence(ctx),
    overview(ctx, service),
    readmeBody(service.readme),
    rollouts(service),
    '## Environments',
    ...views.map((view) => environment(ctx, service, view)),
    alertPolicies(views),
  ]);
}
