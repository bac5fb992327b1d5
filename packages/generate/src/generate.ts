/**
 * `msp generate`: every deployment of the platform repo whose environment runs on the target, compiled to
 * files under `generated/<target>/<env>/<name>/`. Pure: the same repo (and the same releases already
 * pinned in the generated kustomizations) give byte-identical files. Nothing is written when any
 * deployment cannot be expressed.
 */
import type { PlatformRepo } from '@msp/spec';
import { InputError } from '@msp/core';
import type { TargetName } from './errors.js';
import { modelsOf, type DeploymentModel } from './model.js';
import {
  KUSTOMIZATION,
  kubernetesFiles,
  releaseIn,
  type KubernetesGenerateOptions,
} from './kubernetes/index.js';
import { gcpFiles, type GcpOptions } from './gcp/index.js';

export const TARGETS: readonly TargetName[] = ['kubernetes', 'gcp'];

export interface GeneratedFile {
  /** Relative to the generated root (`generated/` in the platform repo): `<target>/<env>/<name>/<file>`. */
  readonly path: string;
  readonly content: string;
}

export interface GenerateOptions {
  readonly target: TargetName;
  /** Only this service (with its instances) or this instance. */
  readonly service?: string;
  /** Only this environment. */
  readonly env?: string;
  /** Reads a file already generated (path relative to the generated root); keeps pinned releases. */
  readonly readExisting?: (path: string) => string | undefined;
  readonly kubernetes?: KubernetesGenerateOptions;
  readonly gcp?: GcpOptions;
}

export interface GenerateResult {
  readonly files: GeneratedFile[];
  /** The folders (relative to the generated root) this run owns: files in them not generated are stale. */
  readonly scopes: string[];
  readonly deployments: string[];
}

export function selectModels(
  repo: PlatformRepo,
  options: Pick<GenerateOptions, 'target' | 'service' | 'env'>,
): DeploymentModel[] {
  const all = modelsOf(repo, options.target);
  if (options.service !== undefined) {
    const known =
      repo.services.some((s) => s.spec.service.id === options.service) ||
      repo.instances.some((i) => i.id === options.service);
    if (!known)
      throw new InputError(
        `No service or instance \`${options.service}\` in the platform repo. Run \`msp status\` to list them.`,
      );
  }
  if (options.env !== undefined && !repo.platform.environments.some((e) => e.id === options.env))
    throw new InputError(
      `No environment \`${options.env}\` in msp.yaml; it declares ${repo.platform.environments.map((e) => e.id).join(', ')}.`,
    );
  return all.filter(
    (m) =>
      (options.service === undefined || m.name === options.service || m.workload === options.service) &&
      (options.env === undefined || m.env === options.env),
  );
}

/** The directory of one deployment, relative to the generated root. */
export const dirOf = (target: TargetName, m: Pick<DeploymentModel, 'env' | 'name'>) =>
  `${target}/${m.env}/${m.name}`;

/** The release a deployment runs on the target: pinned in its generated files, else its default. */
export function releaseOf(m: DeploymentModel, readExisting?: (path: string) => string | undefined): string {
  // An instance's config.yaml names its version: it wins.
  if (m.deployment.instance) return m.defaultRelease;
  return releaseIn(readExisting?.(`${dirOf('kubernetes', m)}/${KUSTOMIZATION}`)) ?? m.defaultRelease;
}

export function generate(repo: PlatformRepo, options: GenerateOptions): GenerateResult {
  const models = selectModels(repo, options);
  const files: GeneratedFile[] = [];
  const scopes: string[] = [];
  if (options.target === 'kubernetes') {
    const names = new Map<string, string>();
    for (const m of models) {
      const dir = dirOf('kubernetes', m);
      const clash = names.get(dir);
      if (clash !== undefined)
        throw new InputError(
          `${m.file}: ${m.deployment.key} and ${clash} would both generate ${dir}; rename one of them.`,
        );
      names.set(dir, m.deployment.key);
      const release = releaseOf(m, options.readExisting);
      for (const f of kubernetesFiles(repo, m, `generated/${dir}`, release, options.kubernetes))
        files.push({ path: `${dir}/${f.path}`, content: f.content });
      scopes.push(dir);
    }
  } else {
    const result = gcpFiles(repo, models, options.gcp ?? {});
    files.push(...result.files);
    scopes.push(...result.scopes);
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // Without a service, the run owns the whole target (or environment) folder: removed deployments are stale.
  const owned =
    options.service === undefined
      ? [options.env === undefined ? options.target : `${options.target}/${options.env}`]
      : scopes.sort();
  return { files, scopes: owned, deployments: models.map((m) => m.deployment.key) };
}
