// Over 400 lines: every check of create, upgrade, delete and extend sits beside the request it guards.
/**
 * What the instance routes, the TTL loop and fleets share: reading instances (repo + state + runtime),
 * checking a playbook's request (every bad input refused before anything changes) and queuing it.
 */
import {
  InputError,
  NotFoundError,
  PreconditionFailedError,
  parseDuration,
  type DeploymentSpec,
  type Operation,
} from '@msp/core';
import {
  defaultInstanceDomain,
  deploymentsOf,
  formatDiagnostic,
  instanceFileSchema,
  loadPlatformRepo,
  type PlatformRepo,
} from '@msp/spec';
import {
  compareVersions,
  parseVersion,
  type Release,
  type ReleaseRegistryClient,
} from '@msp/releaseregistry';
import type { ArtifactStore } from '@msp/runtime-local';
import { busyError, enqueueExplained } from '../api/busy.js';
import type { BackupStore } from '../backups/store.js';
import type { OperationEngine } from '../operations/engine.js';
import type { RuntimeTarget } from '../runtime-port.js';
import type { DeploymentRow, StateStore, TargetRelease } from '../state/store.js';
import {
  CREATE_STEPS,
  CREATE_TAIL,
  DELETE_STEPS,
  UPGRADE_STEPS,
  UPGRADE_TAIL,
  type UpgradeInput,
} from './inputs.js';
import { commitInstance, instanceFile, instanceKey, updateInstanceFile } from './repo-files.js';

export interface InstanceServiceDeps {
  store: StateStore;
  engine: OperationEngine;
  backups: BackupStore;
  runtime: RuntimeTarget;
  registry: ReleaseRegistryClient;
  artifacts: ArtifactStore;
  repoDir: string;
  /** Brings the row in line with the repo after a config change that needs no deploy (extend). */
  syncRow(key: string): Promise<void>;
}

export interface InstanceView {
  key: string;
  env: string;
  id: string;
  service: string;
  customer: string;
  type: 'trial' | 'production' | 'internal';
  /** The version config.yaml says. */
  version: string;
  /** What runs now, as the runtime reports it. */
  release: string | null;
  status: string;
  statusDetail: string | null;
  domain: string;
  channel: string;
  paused: boolean;
  features: string[];
  ttl: string | null;
  expiresAt: string | null;
  maintenance: unknown;
  lastBackup: { id: string; kind: string; finishedAt: string } | null;
  runningOperation: { id: string; kind: string; status: string } | null;
}

export interface DryRun {
  dryRun: true;
  key: string;
  kind: string;
  steps: string[];
  summary: string;
  config?: Record<string, unknown>;
}

export const TTL_PATTERN = /^[1-9][0-9]*(s|m|h|d)$/;

export function createInstanceService(deps: InstanceServiceDeps) {
  const { store, engine, registry } = deps;

  async function repoOf(): Promise<PlatformRepo> {
    const { repo, diagnostics } = await loadPlatformRepo(deps.repoDir);
    if (!repo || diagnostics.length > 0) {
      throw new PreconditionFailedError(
        `The platform repo does not validate, so no instance can change now: ${diagnostics.map(formatDiagnostic).join('; ')}. Fix it (\`msp spec validate\`) first.`,
      );
    }
    return repo;
  }

  async function view(row: DeploymentRow): Promise<InstanceView> {
    const spec = row.spec as DeploymentSpec;
    const inst = spec.instance!;
    const backups = (await deps.backups.list(row.key))
      .filter((b) => b.status === 'succeeded' && b.finishedAt)
      .sort((a, b) => b.finishedAt!.localeCompare(a.finishedAt!));
    const [running] = await store.listOperations({ deploymentKey: row.key, unfinished: true, limit: 1 });
    const last = backups[0];
    return {
      key: row.key,
      env: row.environment,
      id: inst.id,
      service: row.service,
      customer: inst.customer,
      type: inst.type,
      version: inst.version,
      release: row.release,
      status: row.status,
      statusDetail: row.statusDetail,
      domain: spec.domain ?? inst.domain,
      channel: inst.channel,
      paused: inst.paused,
      features: inst.features,
      ttl: inst.ttl ?? null,
      expiresAt: (inst as { expiresAt?: string }).expiresAt ?? null,
      maintenance: (inst as { maintenance?: unknown }).maintenance ?? null,
      lastBackup: last ? { id: last.id, kind: last.kind, finishedAt: last.finishedAt! } : null,
      runningOperation: running ? { id: running.id, kind: running.kind, status: running.status } : null,
    };
  }

  async function rowOf(env: string, id: string): Promise<DeploymentRow> {
    const row = await store.getDeployment(instanceKey(env, id));
    if (!row || row.kind !== 'instance' || row.desiredState === 'deleted') {
      // Being created (no row before its provision step): busy, not unknown.
      const [running] = await store.listOperations({
        deploymentKey: instanceKey(env, id),
        unfinished: true,
        limit: 1,
      });
      if (running) throw busyError(instanceKey(env, id), running, Date.now(), 'and run the command again');
      const known = (await store.listDeployments())
        .filter((d) => d.kind === 'instance' && d.managedBy === 'repo')
        .map((d) => `${d.environment}/${d.instance}`);
      throw new NotFoundError(
        `No instance ${env}/${id}; instances: ${known.join(', ') || 'none'} (\`msp instance list\`).`,
      );
    }
    return row;
  }

  /** A release an instance may run: in the registry, with a bundle, public unless the instance is internal. */
  async function releaseFor(
    service: string,
    version: string | undefined,
    type: string,
  ): Promise<{ release: Release; target: TargetRelease }> {
    let release: Release;
    try {
      release =
        version === undefined || version === 'latest'
          ? await registry.latest(service)
          : await registry.get(service, version);
    } catch (error) {
      if ((error as { status?: number }).status !== 404) throw error;
      const known = (await registry.list(service).catch(() => [])).map(
        (r) => `${r.version}${r.public ? '' : ' (internal)'}`,
      );
      throw new InputError(
        version === undefined || version === 'latest'
          ? `${service} has no public release yet; promote one (\`msp release publish ${service} <version>\`).`
          : `${service} has no release ${version}; releases: ${known.join(', ') || 'none'}.`,
      );
    }
    if (!release.public && type !== 'internal') {
      throw new InputError(
        `${service} ${release.version} is not public: only public releases run on customer instances (${type}). Promote it first (\`msp release publish ${service} ${release.version}\`), or use an internal instance.`,
      );
    }
    const bundle = release.artifacts.find((a) => a.kind === 'bundle');
    if (!bundle) {
      throw new InputError(
        `${service} ${release.version} has no bundle artifact: the local runtime runs bundles.`,
      );
    }
    await deps.artifacts.verify(bundle.digest);
    return {
      release,
      target: { version: release.version, artifact: { digest: bundle.digest, url: bundle.url } },
    };
  }

  const targetSteps = () => deps.runtime.steps;

  return {
    repoOf,
    rowOf,
    view,
    releaseFor,

    async list(env?: string): Promise<InstanceView[]> {
      const rows = (await store.listDeployments()).filter(
        (d) =>
          d.kind === 'instance' &&
          d.managedBy === 'repo' &&
          d.desiredState !== 'deleted' &&
          (!env || d.environment === env),
      );
      return Promise.all(rows.map(view));
    },

    async create(
      body: {
        id: string;
        env: string;
        customer: string;
        type: 'trial' | 'production' | 'internal';
        service?: string;
        version?: string;
        domain?: string;
        adminEmail?: string;
        features?: string[];
        ttl?: string;
        region?: string;
        license?: string;
        channel?: 'stable' | 'insiders' | 'pause';
        maintenance?: Record<string, unknown>;
        dryRun?: boolean;
      },
      who: string,
    ): Promise<Operation | DryRun> {
      const repo = await repoOf();
      const envConfig = repo.platform.environments.find((e) => e.id === body.env);
      if (!envConfig) {
        throw new InputError(
          `No environment '${body.env}' in msp.yaml; environments: ${repo.platform.environments.map((e) => e.id).join(', ')}.`,
        );
      }
      const key = instanceKey(body.env, body.id);
      if (
        repo.instances.some((i) => i.environment === body.env && i.id === body.id) ||
        (await store.getDeployment(key))
      ) {
        throw new InputError(`Instance ${body.env}/${body.id} already exists; choose another id.`);
      }
      // The product other instances run; with no instance yet, the repo's only service.
      const running = [...new Set(repo.instances.map((i) => i.service))];
      const products = running.length > 0 ? running : repo.services.map((s) => s.spec.service.id);
      const service = body.service ?? (products.length === 1 ? products[0] : undefined);
      if (!service) {
        throw new InputError(
          `Say which product the instance runs with --service (services: ${repo.services.map((s) => s.spec.service.id).join(', ')}).`,
        );
      }
      const spec = repo.services.find((s) => s.spec.service.id === service)?.spec;
      if (!spec) throw new InputError(`No service '${service}' in the platform repo.`);
      if (!spec.environments.some((e) => e.id === body.env)) {
        throw new InputError(
          `${service} has no environment '${body.env}' in its service.yaml, so it cannot have instances there.`,
        );
      }
      if (body.ttl !== undefined && body.type === 'production') {
        throw new InputError(
          'Production instances cannot have a TTL: drop --ttl, or create a trial or internal instance.',
        );
      }
      if (body.ttl === undefined && envConfig.category === 'test') {
        throw new InputError(
          `Instances in ${body.env} (a test environment) are short-lived: give --ttl (e.g. --ttl 72h).`,
        );
      }
      if (body.ttl !== undefined && !TTL_PATTERN.test(body.ttl)) {
        throw new InputError(`--ttl ${body.ttl}: give a whole number and a unit (s, m, h, d), e.g. 72h.`);
      }
      const domain =
        body.domain ??
        defaultInstanceDomain(body.customer, body.env, envConfig.category, repo.platform.baseDomain);
      const taken = deploymentsOf(repo).find((d) => d.domain === domain);
      if (taken) {
        throw new InputError(
          `Domain ${domain} is taken by ${taken.key}; give another with --domain${body.domain ? '' : ` (it is the default for customer ${body.customer})`}.`,
        );
      }
      const { release, target } = await releaseFor(service, body.version, body.type);
      const config: Record<string, unknown> = {
        service,
        customer: body.customer,
        type: body.type,
        adminEmail: body.adminEmail ?? `admin@${domain}`,
        ...(body.domain ? { domain: body.domain } : {}),
        version: release.version,
        ...(body.features?.length ? { features: body.features } : {}),
        ...(body.region ? { region: body.region } : {}),
        ...(body.license ? { license: body.license } : {}),
        ...(body.channel ? { channel: body.channel } : {}),
        ...(body.maintenance ? { maintenance: body.maintenance } : {}),
        ...(body.ttl
          ? { ttl: body.ttl, expiresAt: new Date(Date.now() + parseDuration(body.ttl)).toISOString() }
          : {}),
      };
      const checked = instanceFileSchema.safeParse(config);
      if (!checked.success) {
        const i = checked.error.issues[0]!;
        throw new InputError(`${i.path.join('.') || 'instance'}: ${i.message}.`);
      }
      const steps = [...CREATE_STEPS, ...targetSteps().deploy, ...CREATE_TAIL];
      if (body.dryRun) {
        return {
          dryRun: true,
          key,
          kind: 'instance-create',
          steps,
          summary: `would write ${instanceFile(body.env, body.id)}, commit it, and deploy ${service} ${release.version} for ${body.customer} at ${domain}`,
          config,
        };
      }
      return enqueueExplained(store, engine, {
        kind: 'instance-create',
        deploymentKey: key,
        reason: `create instance ${body.env}/${body.id} for ${body.customer} on ${release.version}`,
        createdBy: who,
        input: { env: body.env, id: body.id, config, target },
      });
    },

    async upgrade(
      env: string,
      id: string,
      body: { to: string; dryRun?: boolean },
      who: string,
      fleet?: string,
    ): Promise<Operation | DryRun> {
      const row = await rowOf(env, id);
      const inst = (row.spec as DeploymentSpec).instance!;
      const { release, target } = await releaseFor(row.service, body.to, inst.type);
      const from = row.targetRelease?.version ?? inst.version;
      const a = parseVersion(release.version);
      const b = parseVersion(from);
      const order = a && b ? compareVersions(a, b) : release.version.localeCompare(from);
      if (order < 0) {
        throw new InputError(
          `${env}/${id} runs ${from}; ${release.version} is older: an upgrade never goes back (restore a pre-upgrade backup instead).`,
        );
      }
      if (order === 0) throw new InputError(`${env}/${id} already runs ${from}.`);
      const [running] = await store.listOperations({ deploymentKey: row.key, unfinished: true, limit: 1 });
      if (running) throw busyError(row.key, running, Date.now(), 'and run the command again');
      const input: UpgradeInput = {
        from,
        to: release.version,
        target,
        previous: row.targetRelease,
        ...(fleet ? { fleet } : {}),
      };
      if (body.dryRun) {
        return {
          dryRun: true,
          key: row.key,
          kind: 'instance-upgrade',
          steps: [...UPGRADE_STEPS, ...targetSteps().deploy, ...UPGRADE_TAIL],
          summary: `would back up ${row.key}, run the migrator of ${release.version}, deploy it and bump config.yaml from ${from}; any failure rolls back to ${from}`,
        };
      }
      return enqueueExplained(store, engine, {
        kind: 'instance-upgrade',
        deploymentKey: row.key,
        reason: `upgrade ${env}/${id} from ${from} to ${release.version}${fleet ? ` (fleet ${fleet})` : ''}`,
        createdBy: who,
        input: input as unknown as Record<string, unknown>,
      });
    },

    async remove(
      env: string,
      id: string,
      body: { confirm?: string; dryRun?: boolean; expired?: boolean },
      who: string,
    ): Promise<Operation | DryRun> {
      const row = await rowOf(env, id);
      const inst = (row.spec as DeploymentSpec).instance!;
      if (body.confirm !== undefined && body.confirm !== id && body.confirm !== `${env}/${id}`) {
        throw new InputError(`--confirm must name the instance, ${id}; it was ${body.confirm}.`);
      }
      if (inst.type === 'production' && body.confirm === undefined) {
        throw new InputError(
          `${env}/${id} is a production instance of ${inst.customer}: deleting it tears it down. Say so with --confirm ${id} (a final backup is taken first and kept).`,
        );
      }
      const steps = [...DELETE_STEPS, ...targetSteps().delete];
      if (body.dryRun) {
        return {
          dryRun: true,
          key: row.key,
          kind: 'instance-delete',
          steps,
          summary: `would take a final backup of ${row.key}, remove and commit ${instanceFile(env, id)}, and tear it down (backups kept)`,
        };
      }
      return enqueueExplained(store, engine, {
        kind: 'instance-delete',
        deploymentKey: row.key,
        reason: body.expired ? `TTL of ${env}/${id} ran out` : `delete instance ${env}/${id}`,
        createdBy: who,
        input: { ...(body.expired ? { expired: true } : {}) },
      });
    },

    async extend(env: string, id: string, body: { ttl: string }, who: string): Promise<InstanceView> {
      const row = await rowOf(env, id);
      const inst = (row.spec as DeploymentSpec).instance!;
      if (inst.type === 'production') throw new InputError('Production instances cannot have a TTL.');
      if (!TTL_PATTERN.test(body.ttl)) {
        throw new InputError(`--ttl ${body.ttl}: give a whole number and a unit (s, m, h, d), e.g. 24h.`);
      }
      const expiresAt = new Date(Date.now() + parseDuration(body.ttl)).toISOString();
      await updateInstanceFile(deps.repoDir, env, id, { ttl: body.ttl, expiresAt });
      await deps.syncRow(row.key);
      await commitInstance(
        deps.repoDir,
        env,
        id,
        `instance ${env}/${id}: TTL extended to ${expiresAt} (${body.ttl} from now)\n\nby ${who}`,
        who,
      );
      await store.addEvent({
        deploymentKey: row.key,
        kind: 'instance-ttl-extended',
        message: `TTL of ${env}/${id} extended by ${who}: it now expires at ${expiresAt}`,
      });
      return view(await store.requireDeployment(row.key));
    },
  };
}

export type InstanceService = ReturnType<typeof createInstanceService>;
