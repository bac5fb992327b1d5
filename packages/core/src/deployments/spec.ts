/**
 * The deployment model: what a deployment needs to run, as the reconciler stores it with the deployment
 * (the spec blocks plus where its code lives), and the runtime target that runs it.
 */
import type { Deployment } from '@msp/spec';

/** What a deployment needs to run, as stored with it: the spec blocks plus where its code lives. */
export interface DeploymentSpec {
  key: string;
  kind: 'service' | 'instance';
  service: Deployment['service'];
  environment: Deployment['environment'];
  envConfig: Deployment['envConfig'];
  instance?: Deployment['instance'];
  domain?: string;
  serviceDir: string;
  platformName: string;
}

/** The runtimes an environment can name (msp.yaml `environments[].runtime`). */
export type RuntimeName = DeploymentSpec['envConfig']['runtime'];

/** The runtime target that runs a deployment: its environment's `runtime` (local when unset). */
export function runtimeOf(spec: Pick<DeploymentSpec, 'envConfig'>): RuntimeName {
  return spec.envConfig.runtime ?? 'local';
}

/** The volumes a deployment declares, by name. */
export function volumesOf(spec: Pick<DeploymentSpec, 'environment'>): string[] {
  return (spec.environment.resources?.volumes ?? []).map((v) => v.name);
}
