/**
 * Rules of a service spec that relate fields to each other (rollout stages and deploy types, jobs,
 * projectID, database sizing, ...). They read the raw document defensively, so they run, and report,
 * even when other fields of the same file are malformed: every mistake of a file is reported at once.
 */
import { PROJECT_ID_MAX } from './common.js';
import type { PathSegment } from './yaml-source.js';

export interface RuleIssue {
  path: PathSegment[];
  message: string;
  target?: 'key' | 'value';
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const int = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) ? v : undefined;

export function checkServiceRules(raw: unknown): RuleIssue[] {
  const issues: RuleIssue[] = [];
  if (!isObj(raw)) return issues;
  const service = isObj(raw.service) ? raw.service : {};
  const serviceId = str(service.id);
  const kind = service.kind === 'job' ? 'job' : 'service';
  const envs = list(raw.environments);

  // Environment ids are unique within a service.
  const firstIndex = new Map<string, number>();
  envs.forEach((env, i) => {
    const id = isObj(env) ? str(env.id) : undefined;
    if (id === undefined) return;
    const first = firstIndex.get(id);
    if (first !== undefined)
      issues.push({
        path: ['environments', i, 'id'],
        message: `duplicate environment id \`${id}\` (also environments[${first}])`,
      });
    else firstIndex.set(id, i);
  });

  envs.forEach((env, i) => {
    if (!isObj(env)) return;
    const at = (...rest: PathSegment[]): PathSegment[] => ['environments', i, ...rest];
    const envId = str(env.id);

    // projectID: starts with "<service id>-", fewer than 30 characters (the default too).
    const projectID = str(env.projectID);
    if (serviceId !== undefined) {
      if (projectID !== undefined) {
        if (!projectID.startsWith(`${serviceId}-`))
          issues.push({
            path: at('projectID'),
            message: `projectID must start with \`${serviceId}-\` (the service id and a dash)`,
          });
        if (projectID.length > PROJECT_ID_MAX)
          issues.push({
            path: at('projectID'),
            message: `projectID must be shorter than 30 characters (it has ${projectID.length})`,
          });
      } else if (envId !== undefined && `${serviceId}-${envId}`.length > PROJECT_ID_MAX) {
        issues.push({
          path: at('projectID'),
          message: `the default projectID \`${serviceId}-${envId}\` is 30 characters or more; set a shorter projectID starting with \`${serviceId}-\``,
        });
      }
    }

    // Database sizing: memoryGB between cpu and 6 × cpu (defaults 1 cpu, 4 GB).
    const resources = isObj(env.resources) ? env.resources : {};
    if (isObj(resources.postgreSQL)) {
      const cpu = resources.postgreSQL.cpu === undefined ? 1 : int(resources.postgreSQL.cpu);
      const mem = resources.postgreSQL.memoryGB === undefined ? 4 : int(resources.postgreSQL.memoryGB);
      if (cpu !== undefined && mem !== undefined && cpu >= 1) {
        if (mem < cpu)
          issues.push({
            path: at('resources', 'postgreSQL', 'memoryGB'),
            message: `memoryGB (${mem}) must be at least cpu (${cpu})`,
          });
        else if (mem > 6 * cpu)
          issues.push({
            path: at('resources', 'postgreSQL', 'memoryGB'),
            message: `memoryGB (${mem}) must be at most 6 × cpu (${6 * cpu})`,
          });
      }
    }

    // Volume names are unique within an environment.
    const volumeNames = new Set<string>();
    list(resources.volumes).forEach((v, j) => {
      const name = isObj(v) ? str(v.name) : undefined;
      if (name === undefined) return;
      if (volumeNames.has(name))
        issues.push({
          path: at('resources', 'volumes', j, 'name'),
          message: `duplicate volume name \`${name}\``,
        });
      volumeNames.add(name);
    });

    // Scaling bounds.
    const instances = isObj(env.instances) ? env.instances : {};
    const scaling = isObj(instances.scaling) ? instances.scaling : undefined;
    if (scaling) {
      const min = scaling.minCount === undefined ? 1 : int(scaling.minCount);
      const max = scaling.maxCount === undefined ? 5 : int(scaling.maxCount);
      if (min !== undefined && max !== undefined && min > max)
        issues.push({
          path: at('instances', 'scaling', 'minCount'),
          message: `minCount (${min}) must not exceed maxCount (${max})`,
        });
    }

    const deploy = isObj(env.deploy) ? env.deploy : undefined;
    if (deploy?.type === 'subscription' && !isObj(deploy.subscription))
      issues.push({
        path: at('deploy', 'subscription'),
        message: 'deploy type `subscription` needs `subscription.tag`, the image tag to follow',
      });

    // Jobs run on a schedule and scale to one; services do neither.
    if (kind === 'job') {
      if (env.schedule === undefined)
        issues.push({ path: at('schedule'), message: 'a job needs `schedule.cron` in every environment' });
      if (scaling)
        issues.push({
          path: at('instances', 'scaling'),
          message: 'a job does not scale; remove `instances.scaling`',
          target: 'key',
        });
      if (deploy?.type === 'rollout')
        issues.push({
          path: at('deploy', 'type'),
          message: 'a job cannot use deploy type `rollout`; use `manual` or `subscription`',
        });
    } else if (env.schedule !== undefined) {
      issues.push({
        path: at('schedule'),
        message: 'only a job (service.kind: job) has a schedule',
        target: 'key',
      });
    }
  });

  // Response code ratio alerts: code xor codeClass; ids unique.
  const monitoring = isObj(raw.monitoring) ? raw.monitoring : {};
  const alerts = isObj(monitoring.alerts) ? monitoring.alerts : {};
  const ratioIds = new Set<string>();
  list(alerts.responseCodeRatios).forEach((r, j) => {
    if (!isObj(r)) return;
    const path = ['monitoring', 'alerts', 'responseCodeRatios', j];
    if (r.code !== undefined && r.codeClass !== undefined)
      issues.push({ path: [...path, 'codeClass'], message: 'set either `code` or `codeClass`, not both' });
    else if (r.code === undefined && r.codeClass === undefined)
      issues.push({ path, message: 'set one of `code` (e.g. 404) or `codeClass` (e.g. `5xx`)' });
    const id = str(r.id);
    if (id !== undefined) {
      if (ratioIds.has(id)) issues.push({ path: [...path, 'id'], message: `duplicate alert id \`${id}\`` });
      ratioIds.add(id);
    }
  });
  // Rollout: ≥1 stage, no repeats; an environment is in a stage exactly when its deploy type is rollout.
  const rollout = isObj(raw.rollout) ? raw.rollout : undefined;
  if (kind === 'job') {
    if (raw.rollout !== undefined)
      issues.push({
        path: ['rollout'],
        message: 'a job has no rollout pipeline; remove `rollout`',
        target: 'key',
      });
    return issues;
  }
  const envById = new Map<string, { index: number; deployType: unknown }>();
  envs.forEach((env, i) => {
    if (!isObj(env) || str(env.id) === undefined) return;
    const id = str(env.id) as string;
    if (!envById.has(id))
      envById.set(id, { index: i, deployType: isObj(env.deploy) ? env.deploy.type : undefined });
  });
  const staged = new Set<string>();
  if (rollout) {
    list(rollout.stages).forEach((stage, j) => {
      const envId = isObj(stage) ? str(stage.environment) : undefined;
      if (envId === undefined) return;
      const path = ['rollout', 'stages', j, 'environment'];
      if (staged.has(envId)) {
        issues.push({
          path,
          message: `environment \`${envId}\` is already an earlier stage; a stage may appear once`,
        });
        return;
      }
      staged.add(envId);
      const env = envById.get(envId);
      if (!env)
        issues.push({
          path,
          message: `rollout stage names environment \`${envId}\`, which this service does not declare`,
        });
      else if (env.deployType !== 'rollout' && typeof env.deployType === 'string')
        issues.push({
          path,
          message: `environment \`${envId}\` is a rollout stage but its deploy type is \`${env.deployType}\`; set environments[${env.index}].deploy.type to \`rollout\` or remove the stage`,
        });
    });
  }
  for (const [id, env] of envById) {
    if (env.deployType === 'rollout' && !staged.has(id))
      issues.push({
        path: ['environments', env.index, 'deploy', 'type'],
        message: rollout
          ? `environment \`${id}\` has deploy type \`rollout\` but is not a stage of rollout.stages; add it there`
          : `environment \`${id}\` has deploy type \`rollout\` but the spec has no \`rollout\` block; add rollout.stages`,
      });
  }

  return issues;
}
