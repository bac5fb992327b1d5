/**
 * What every target needs to know about one deployment, derived once from the platform repo: names,
 * the file it is declared in, the image and the release it runs.
 */
import type { Deployment, PlatformRepo } from '@msp/spec';
import { deploymentsOf } from '@msp/spec';
import { CannotExpress, type TargetName } from './errors.js';

export interface DeploymentModel {
  readonly deployment: Deployment;
  readonly env: string;
  /** The folder name under generated/<target>/<env>/: the service id, or the instance id. */
  readonly name: string;
  /** Repo-relative file that declares it (service.yaml or the instance's config.yaml). */
  readonly file: string;
  /** Repo-relative file of the service spec (the fields an instance inherits). */
  readonly serviceFile: string;
  /** Kubernetes namespace / a resource name prefix: `<service>-<env>` or `<env>-<instance>`. */
  readonly namespace: string;
  /** Service id: the workload's name. */
  readonly workload: string;
  /** The image without tag, when the spec names one. */
  readonly image?: string;
  /** The release the deployment runs when nothing else says: the instance's version, or the deploy tag. */
  readonly defaultRelease: string;
  /** The 1-based rollout stage, when the environment is one. */
  readonly stage?: number;
  /** msp.yaml's shared alerts channel. */
  readonly sharedChannel?: string;
}

const DNS_LABEL = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function modelsOf(repo: PlatformRepo, target: TargetName): DeploymentModel[] {
  const files = new Map(repo.services.map((s) => [s.spec.service.id, s.specFile]));
  const out: DeploymentModel[] = [];
  for (const d of deploymentsOf(repo)) {
    if (d.envConfig.runtime !== target) continue;
    const service = d.service.service.id;
    const serviceFile = files.get(service) ?? `services/${service}/service.yaml`;
    const env = d.environment.id;
    const file = d.instance?.file ?? serviceFile;
    const name = d.instance?.id ?? service;
    const namespace = d.instance ? `${env}-${d.instance.id}` : `${service}-${env}`;
    if (!DNS_LABEL.test(namespace))
      throw new CannotExpress(
        target,
        file,
        d.instance ? 'instance id' : 'service.id',
        `the name \`${namespace}\` is not a DNS label (a lowercase letter first, at most 63 characters)`,
      );
    const stages = d.service.rollout?.stages.map((s) => s.environment) ?? [];
    const stageIndex = stages.indexOf(env);
    const deploy = d.environment.deploy;
    const defaultRelease =
      d.instance?.version ??
      (deploy.type === 'rollout'
        ? (d.service.rollout?.initialImageTag ?? 'insiders')
        : deploy.type === 'subscription'
          ? (deploy.subscription?.tag ?? 'insiders')
          : (deploy.manual?.tag ?? 'insiders'));
    out.push({
      deployment: d,
      env,
      name,
      file,
      serviceFile,
      namespace,
      workload: service,
      ...(d.service.build.image !== undefined ? { image: d.service.build.image } : {}),
      defaultRelease,
      ...(stageIndex >= 0 && !d.instance ? { stage: stageIndex + 1 } : {}),
      ...(repo.platform.notifications.sharedChannel !== undefined
        ? { sharedChannel: repo.platform.notifications.sharedChannel }
        : {}),
    });
  }
  return out;
}

/** `FOO-bar` → `FOO_BAR`: a database or volume name as part of an environment variable name. */
export function envName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}
