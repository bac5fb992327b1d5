/**
 * Kubernetes: one kustomize-ready folder per deployment, `generated/kubernetes/<env>/<name>/`, plus the
 * Argo CD Application that applies it (application.yaml, outside the kustomization: it lives in argocd).
 */
import { parse } from 'yaml';
import type { PlatformRepo } from '@msp/spec';
import { CannotExpress } from '../errors.js';
import type { DeploymentModel } from '../model.js';
import { toYaml } from '../output.js';
import { database, volumeBackups, type KubernetesOptions } from './database.js';
import { prometheusRule, uptimeProbe, type MonitoringOptions } from './monitoring.js';
import { labelsOf, namespace, volumeClaims, workload, type Manifest } from './workload.js';

export interface KubernetesGenerateOptions extends KubernetesOptions, MonitoringOptions {
  /** Argo CD: the git revision Applications follow. Default `HEAD`. */
  readonly targetRevision?: string;
}

export const KUSTOMIZATION = 'kustomization.yaml';
export const APPLICATION = 'application.yaml';

/** The file a manifest goes to: its kind in lowercase, plus its name when a kind has several. */
const FILE_NAMES: Record<string, string> = {
  Cluster: 'cnpg-cluster',
  ScheduledBackup: 'cnpg-scheduledbackup',
  ObjectStore: 'barman-objectstore',
  Schedule: 'velero-schedule',
  ConfigMap: 'cnpg-queries',
  HorizontalPodAutoscaler: 'hpa',
};

function fileOf(manifest: Manifest, several: boolean): string {
  const kind = FILE_NAMES[manifest.kind] ?? manifest.kind.toLowerCase();
  const name = (manifest.metadata as { name: string }).name;
  return several ? `${kind}-${name}.yaml` : `${kind}.yaml`;
}

/** The release a kustomization pins for the deployment's image, if the file is there and says so. */
export function releaseIn(kustomization: string | undefined): string | undefined {
  if (kustomization === undefined) return undefined;
  try {
    const doc = parse(kustomization) as { images?: { newTag?: unknown }[] } | null;
    const tag = doc?.images?.[0]?.newTag;
    return typeof tag === 'string' ? tag : undefined;
  } catch {
    return undefined;
  }
}

export function kustomization(m: DeploymentModel, resources: string[], release: string): string {
  return toYaml({
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [...resources].sort(),
    labels: [{ pairs: { 'app.kubernetes.io/part-of': 'msp' } }],
    images: m.image !== undefined ? [{ name: m.image, newTag: release }] : undefined,
  });
}

export function application(
  repo: PlatformRepo,
  m: DeploymentModel,
  path: string,
  options: KubernetesGenerateOptions,
): Manifest {
  const repoURL = repo.platform.links.repository;
  if (repoURL === undefined)
    throw new CannotExpress(
      'kubernetes',
      'msp.yaml',
      'links.repository',
      'Argo CD needs the git URL of the platform repo to sync from; set links.repository',
    );
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: {
      name: m.namespace,
      namespace: 'argocd',
      labels: labelsOf(m),
      annotations: {
        'msp.dev/deployment': m.deployment.key,
        ...(m.stage !== undefined ? { 'msp.dev/rollout-stage': String(m.stage) } : {}),
      },
    },
    spec: {
      project: 'default',
      source: { repoURL, targetRevision: options.targetRevision ?? 'HEAD', path },
      destination: { server: 'https://kubernetes.default.svc', namespace: m.namespace },
      // Every stage syncs what is committed; a later stage changes only when MSP commits a promotion.
      syncPolicy: { automated: { prune: true, selfHeal: true } },
    },
  };
}

/** Every manifest of one deployment (without kustomization and application), for validation and files. */
export function manifestsOf(m: DeploymentModel, options: KubernetesGenerateOptions = {}): Manifest[] {
  return [
    namespace(m),
    ...workload(m),
    ...volumeClaims(m),
    ...database(m, options),
    ...volumeBackups(m),
    prometheusRule(m),
    ...uptimeProbe(m, options),
  ];
}

/** The files of one deployment's folder, relative to it. */
export function kubernetesFiles(
  repo: PlatformRepo,
  m: DeploymentModel,
  dir: string,
  release: string,
  options: KubernetesGenerateOptions = {},
): { path: string; content: string }[] {
  const manifests = manifestsOf(m, options);
  const count = new Map<string, number>();
  for (const x of manifests) count.set(x.kind, (count.get(x.kind) ?? 0) + 1);
  const files = manifests.map((x) => ({ path: fileOf(x, (count.get(x.kind) ?? 0) > 1), content: toYaml(x) }));
  const resources = files.map((f) => f.path);
  files.push({ path: KUSTOMIZATION, content: kustomization(m, resources, release) });
  files.push({ path: APPLICATION, content: toYaml(application(repo, m, dir, options)) });
  return files;
}
