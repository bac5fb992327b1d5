/** Every deployment of a platform repo: each service in each of its environments, and each instance. */
import type { EnvironmentConfig } from './platform-schema.js';
import type { InstanceConfig } from './instance-schema.js';
import type { ServiceEnvironment, ServiceSpec } from './service-schema.js';
import type { PlatformRepo } from './load-repo.js';

export interface Deployment {
  /** "releaseregistry/dev" for a service environment, "instance/prod/customer-globex" for an instance. */
  key: string;
  kind: 'service' | 'instance';
  service: ServiceSpec;
  /** For an instance: its product service's environment block of the same environment id. */
  environment: ServiceEnvironment;
  envConfig: EnvironmentConfig;
  instance?: InstanceConfig;
  domain?: string;
}

/** Services (by id, environments in spec order) first, then instances (by environment, id). */
export function deploymentsOf(repo: PlatformRepo): Deployment[] {
  const envConfigs = new Map(repo.platform.environments.map((e) => [e.id, e]));
  const out: Deployment[] = [];
  for (const { spec } of repo.services) {
    for (const environment of spec.environments) {
      const envConfig = envConfigs.get(environment.id);
      if (!envConfig) continue; // a validated repo never gets here
      const d: Deployment = {
        key: `${spec.service.id}/${environment.id}`,
        kind: 'service',
        service: spec,
        environment,
        envConfig,
      };
      if (environment.domain !== undefined) d.domain = environment.domain;
      out.push(d);
    }
  }
  const services = new Map(repo.services.map((s) => [s.spec.service.id, s.spec]));
  for (const instance of repo.instances) {
    const service = services.get(instance.service);
    const environment = service?.environments.find((e) => e.id === instance.environment);
    const envConfig = envConfigs.get(instance.environment);
    if (!service || !environment || !envConfig) continue;
    out.push({
      key: `instance/${instance.environment}/${instance.id}`,
      kind: 'instance',
      service,
      environment,
      envConfig,
      instance,
      domain: instance.domain,
    });
  }
  return out;
}
