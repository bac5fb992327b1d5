// The synthetic platform repo of the benchmarks (bench/handbook.mjs, bench/generate.mjs): 200 services (2
// environments each, PostgreSQL in both, a volume in every 4th, a response-code-ratio alert, a rollout
// dev → prod, a README) and 400 managed instances of the 20 product services.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SERVICES = 200;
export const INSTANCES = 400;

export function writeRepo(dir) {
  const w = (path, text) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  w(
    'msp.yaml',
    `organization: { name: Bench Corp }
baseDomain: bench.localhost
environments:
  - id: dev
    category: test
    access: { restricted: false }
  - id: prod
    category: internal
notifications:
  sharedChannel: '#alerts-platform'
  chatUrl: https://chat.example.com/channels/{channel}
links:
  repository: https://git.example.com/bench/platform
  platformDocs: https://docs.example.com/msp
  support: { team: Platform, channel: '#discuss-platform' }
  accessRequests: https://access.example.com/request
`,
  );
  // Every 10th service is a product with managed instances; every 4th has a volume.
  const products = [];
  for (let i = 0; i < SERVICES; i++) {
    const id = `svc-${String(i).padStart(3, '0')}`;
    if (i % 10 === 0) products.push(id);
    const env = (envId, category, domain) => `  - id: ${envId}
    category: ${category}
    deploy: { type: rollout }
    domain: ${domain}
    healthProbes: { timeout: 3 }
    instances:
      resources: { cpu: 1, memory: 512Mi }
      scaling: { minCount: 1, maxCount: ${envId === 'dev' ? 2 : 10} }
    env: { LOG_LEVEL: info }
    secretEnv: { API_TOKEN: ${id}-token }
    resources:
      postgreSQL: { databases: [${id.replace(/-/g, '')}] }
${i % 4 === 0 ? '      volumes: [{ name: data, sizeGB: 20 }]\n' : ''}`;
    w(
      `services/${id}/service.yaml`,
      `service:
  id: ${id}
  name: Service ${i}
  owners: [team-${i % 17}]
  description: Synthetic service number ${i} for the handbook benchmark.
build:
  image: registry.example.com/bench/${id}
  source: { repo: git.example.com/bench/${id}, dir: . }
environments:
${env('dev', 'test', `${id}.dev.bench.localhost`)}${env('prod', 'internal', `${id}.bench.localhost`)}monitoring:
  alerts:
    responseCodeRatios:
      - { id: server-errors, name: Server errors, codeClass: 5xx, ratio: 0.05 }
rollout:
  stages: [{ environment: dev }, { environment: prod }]
`,
    );
    w(`services/${id}/README.md`, `# Service ${i}\n\nWhat service ${i} does, and its runbook.\n`);
  }
  for (let i = 0; i < INSTANCES; i++) {
    const envId = i % 4 === 0 ? 'dev' : 'prod';
    const customer = `customer${String(i).padStart(3, '0')}`;
    w(
      `environments/${envId}/deployments/${customer}/config.yaml`,
      `service: ${products[i % products.length]}
customer: ${customer}
type: ${i % 10 === 0 ? 'internal' : 'production'}
adminEmail: admin@${customer}.example
version: v1.${i % 7}.0
${envId === 'dev' ? 'ttl: 72h\n' : ''}`,
    );
  }
}
