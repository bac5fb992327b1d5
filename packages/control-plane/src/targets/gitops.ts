/**
 * What the kubernetes and gcp targets share: the control plane does not run their deployments, it hands
 * them over. A deploy checks that the deployment's generated files (`msp generate`) are in the platform
 * repo and up to date; Argo CD or Terraform applies them. Capabilities that act on running code (stop a
 * workload, take a base backup, open a database) are refused with the tool that does it on that engine.
 */
import { PreconditionFailedError, type DeploymentSpec } from '@msp/core';
import {
  checkGenerated,
  generate,
  readGenerated,
  releaseOf,
  selectModels,
  type TargetName,
} from '@msp/generate';
import { loadPlatformRepo } from '@msp/spec';
import { join } from 'node:path';
import type { StepContext } from '../operations/engine.js';
import type { DeploymentRuntimeStatus, RuntimeTarget } from '../runtime-port.js';
import type { StateStore } from '../state/store.js';

export interface HandedOver {
  key: string;
  /** Folder of its generated files, relative to the platform repo. */
  dir: string;
  /** Kubernetes namespace (or Google Cloud project) and workload name. */
  namespace: string;
  workload: string;
  urls: string[];
  /** What the last deploy found: up to date, or which files are stale. */
  detail: string;
  /** Whether the generated files are up to date. */
  upToDate: boolean;
  /** The release its generated files pin. */
  release: string;
}

/** Deployment statuses of a hand-over: its files are up to date, or stale. */
export const HANDED_OVER_STATUSES = ['generated', 'stale'] as const;

/** Why a capability is refused, and which tool does it on the engine. */
export function refuse(target: TargetName, what: string, instead: string): never {
  throw new PreconditionFailedError(
    `On ${target}, MSP does not ${what} itself: the deployment runs on the engine it was generated for. ${instead}`,
  );
}

/** A capability object whose every method refuses with `instead`. */
export function refusing<T extends object>(target: TargetName, what: string, instead: string): T {
  return new Proxy({} as T, {
    get: (_o, method) =>
      method === 'then'
        ? undefined
        : () => Promise.reject(refusalError(target, `${what} (${String(method)})`, instead)),
  });
}

function refusalError(target: TargetName, what: string, instead: string): Error {
  try {
    refuse(target, what, instead);
  } catch (error) {
    return error as Error;
  }
}

/** Checks the deployment's generated files against the repo; returns what a user should know. */
export async function checkHandOver(
  target: TargetName,
  repoDir: string,
  spec: DeploymentSpec,
): Promise<HandedOver> {
  const { repo, diagnostics } = await loadPlatformRepo(repoDir);
  if (!repo)
    throw new PreconditionFailedError(
      `The platform repo does not validate (${diagnostics.length} problems): run \`msp spec validate\`.`,
    );
  const model = selectModels(repo, { target, env: spec.environment.id }).find(
    (m) => m.deployment.key === spec.key,
  );
  if (!model)
    throw new PreconditionFailedError(`${spec.key} does not run on ${target} in the platform repo any more.`);
  const root = join(repoDir, 'generated');
  const result = generate(repo, {
    target,
    service: model.name,
    env: model.env,
    readExisting: readGenerated(root),
  });
  const dir = `${target}/${model.env}/${model.name}`;
  const own = { ...result, files: result.files.filter((f) => f.path.startsWith(`${dir}/`)), scopes: [dir] };
  const check = await checkGenerated(root, own);
  const stale = [...check.changed, ...check.missing, ...check.extra];
  const applier = target === 'kubernetes' ? 'Argo CD' : 'Terraform';
  return {
    key: spec.key,
    upToDate: stale.length === 0,
    release: target === 'kubernetes' ? releaseOf(model, readGenerated(root)) : model.defaultRelease,
    dir: `generated/${dir}`,
    namespace: model.namespace,
    workload: model.workload,
    urls: model.deployment.domain !== undefined ? [`https://${model.deployment.domain}`] : [],
    detail:
      stale.length === 0
        ? `generated/${dir} is up to date; ${applier} applies it`
        : `generated/${dir} is stale (${stale.length} file${stale.length === 1 ? '' : 's'}: ${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ', …' : ''}): run \`msp generate --target ${target}\` and commit`,
  };
}

export interface GitopsTargetParts {
  target: TargetName;
  store: Pick<StateStore, 'requireDeployment' | 'setStatus' | 'markApplied'>;
  repoDir: string;
  /** Status of a handed-over deployment (observed, or "not observed"). */
  status(handed: HandedOver): DeploymentRuntimeStatus;
  /** Called after each hand-over (an observer starts watching it). */
  watch?(handed: HandedOver): void;
  stop?(): Promise<void>;
  /** How to read logs, open the database, take backups on that engine. */
  instead: { logs: string; database: string; backups: string; workloads: string };
}

export function createGitopsTarget(parts: GitopsTargetParts): RuntimeTarget {
  const handed = new Map<string, HandedOver>();
  const { target } = parts;
  return {
    name: target,
    steps: { deploy: ['check-generated'], stop: ['hand-back'], delete: ['hand-back'] },
    async runStep(step: string, ctx: StepContext) {
      const key = ctx.operation.deploymentKey;
      if (step === 'check-generated') {
        const row = await parts.store.requireDeployment(key);
        const h = await checkHandOver(target, parts.repoDir, row.spec as DeploymentSpec);
        handed.set(key, h);
        parts.watch?.(h);
        await parts.store.setStatus(key, h.upToDate ? 'generated' : 'stale', h.detail, h.release);
        // Handed over: the reconciler plans nothing more for this spec until it changes.
        await parts.store.markApplied(key, row.specHash);
        await ctx.log(h.detail, h.upToDate ? 'info' : 'warn');
        return h.detail;
      }
      // stop / delete: nothing runs here; the engine removes what is no longer generated.
      const h = handed.get(key);
      handed.delete(key);
      await parts.store.setStatus(key, 'stopped', 'handed back: nothing of it runs on this machine');
      return `${h?.dir ?? key}: remove it from generated/ (msp generate does when the deployment leaves the repo) and ${target === 'kubernetes' ? 'Argo CD prunes it' : 'Terraform destroys it'}`;
    },
    workloads: refusing(target, 'stop or start workloads', parts.instead.workloads),
    databases: refusing(target, 'operate databases', parts.instead.backups),
    volumes: refusing(target, 'snapshot volumes', parts.instead.backups),
    status(key) {
      const h = handed.get(key);
      return h ? parts.status(h) : undefined;
    },
    isRunning: (key) => handed.has(key),
    proxyUrl: () => undefined,
    // eslint-disable-next-line require-yield
    async *logs() {
      await Promise.reject(refusalError(target, 'collect logs', parts.instead.logs));
    },
    grantDatabaseAccess: () => Promise.reject(refusalError(target, 'open databases', parts.instead.database)),
    metrics: () => ({ pendingRequests: {} }),
    stop: async () => {
      await parts.stop?.();
    },
  };
}
