/**
 * The stacks of a deployment beyond its own infrastructure: the Cloud Deploy pipeline of a service's
 * rollout (in the folder of its last stage), and the Terraform Cloud workspaces that apply every stack.
 */
import type { PlatformRepo } from '@msp/spec';
import type { DeploymentModel } from '../model.js';
import { projectOf } from './monitoring.js';
import type { GcpOptions } from './index.js';

type Json = Record<string, unknown>;

export function rolloutStack(repo: PlatformRepo, m: DeploymentModel, options: GcpOptions): Json {
  const rollout = m.deployment.service.rollout!;
  const region = options.region ?? 'us-central1';
  const project = projectOf(m);
  const envs = new Map(m.deployment.service.environments.map((e) => [e.id, e]));
  const targets: Record<string, Json> = {};
  for (const [i, stage] of rollout.stages.entries()) {
    const e = envs.get(stage.environment)!;
    targets[stage.environment] = {
      project,
      location: region,
      name: `${m.workload}-${stage.environment}`,
      description: `${m.workload} ${stage.environment}`,
      // Every stage but the first takes a release only when someone promotes it.
      require_approval: i > 0,
      run: { location: `projects/${e.projectID}/locations/${region}` },
    };
  }
  void repo;
  return {
    resource: {
      google_clouddeploy_target: targets,
      google_clouddeploy_delivery_pipeline: {
        pipeline: {
          project,
          location: region,
          name: m.workload,
          description: `Rollout of ${m.workload}: ${rollout.stages.map((s) => s.environment).join(' → ')}`,
          suspended: rollout.suspended,
          serial_pipeline: {
            stages: rollout.stages.map((s) => ({
              target_id: `${m.workload}-${s.environment}`,
              profiles: [s.environment],
            })),
          },
          depends_on: rollout.stages.map((s) => `google_clouddeploy_target.${s.environment}`),
        },
      },
    },
  };
}

/**
 * The Terraform Cloud workspaces that apply the stacks, one per stack, tagged `msp-<service>-<env>` as the
 * original grouped them (`tfe` provider; applied once by the platform team, then each workspace runs its
 * stack from the platform repo).
 */
export function workspacesStack(m: DeploymentModel, dir: string, stacks: string[]): Json {
  const tag = `msp-${m.workload}-${m.env}${m.deployment.instance ? `-${m.name}` : ''}`;
  return {
    variable: {
      tfc_organization: { type: 'string' },
      vcs_oauth_token_id: { type: 'string' },
      repository: { type: 'string' },
    },
    resource: {
      tfe_workspace: Object.fromEntries(
        stacks.map((stack) => [
          stack,
          {
            organization: '${var.tfc_organization}',
            name: `${tag}-${stack}`,
            tag_names: [tag, `msp-stack-${stack}`],
            working_directory: `generated/${dir}/${stack}`,
            trigger_prefixes: [`generated/${dir}/${stack}`],
            auto_apply: stack !== 'project',
            vcs_repo: { identifier: '${var.repository}', oauth_token_id: '${var.vcs_oauth_token_id}' },
          },
        ]),
      ),
    },
  };
}
