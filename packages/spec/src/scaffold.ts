/** The files `msp init <service-id>` writes: a valid service.yaml and a README.md. */
import { isProduction } from './common.js';
import type { Category } from './common.js';

export interface ScaffoldOptions {
  id: string;
  owner: string;
  /** The repo's environments (msp.yaml order); a dev/prod pair when the repo has no msp.yaml yet. */
  environments?: { id: string; category: Category }[];
}

export function scaffoldService(options: ScaffoldOptions): { serviceYaml: string; readme: string } {
  const envs = options.environments?.length
    ? options.environments
    : [
        { id: 'dev', category: 'test' as const },
        { id: 'prod', category: 'internal' as const },
      ];
  const { id, owner } = options;
  const lines = [
    `# The spec of ${id}. Reference: docs/spec-reference.md; editor completion: \`msp spec schema service\`.`,
    'service:',
    `  id: ${id}`,
    `  name: ${id}`,
    '  owners:',
    `    - ${JSON.stringify(owner)}`,
    `  description: ${JSON.stringify(`${id}: say in one sentence what this service does and for whom.`)}`,
    '  kind: service',
    'build:',
    '  # How the local runtime starts the service: a folder (relative to this file) and a command.',
    '  local:',
    '    dir: .',
    "    command: ['node', 'server.js']",
    'environments:',
  ];
  for (const env of envs) {
    lines.push(
      `  - id: ${env.id}`,
      `    category: ${env.category}`,
      '    deploy:',
      '      type: rollout',
      `    # domain: ${id}.${env.id}.example.com`,
      '    healthProbes:',
      '      healthzProbes: true',
      '    instances:',
      '      resources:',
      '        cpu: 1',
      `        memory: ${isProduction(env.category) ? '1Gi' : '512Mi'}`,
      '    # resources:',
      '    #   postgreSQL:',
      `    #     databases: [${id.replace(/-/g, '_').replace(/^([0-9])/, 'db_$1')}]`,
    );
  }
  lines.push('rollout:', '  stages:', ...envs.map((e) => `    - environment: ${e.id}`), '');
  const readme = [
    `# ${id}`,
    '',
    `What ${id} does, who uses it and what it depends on. This page is pulled into the generated`,
    'operations handbook, so write it for the person on call.',
    '',
  ].join('\n');
  return { serviceYaml: lines.join('\n'), readme };
}
