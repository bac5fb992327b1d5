/**
 * Turns what a user types into a deployment key: `releaseregistry dev` → `releaseregistry/dev`, an
 * instance id (`customer-globex`, `prod/customer-globex`) → `instance/prod/customer-globex`; a full key
 * passes through. Unknown names are bad input (exit 2) listing the known deployments.
 */
import { CliError } from './cli-support.js';
import { call, type ControlPlaneClient } from './client.js';

export async function resolveKey(
  client: ControlPlaneClient,
  target: string,
  env: string | undefined,
): Promise<string> {
  if (env) return `${target}/${env}`;
  if (target.startsWith('instance/')) return target;
  const { deployments } = await call(client.api.status.$get());
  const keys = deployments.map((d) => d.key);
  for (const candidate of [target, `instance/${target}`]) if (keys.includes(candidate)) return candidate;
  const byInstance = keys.filter((k) => k.startsWith('instance/') && k.endsWith(`/${target}`));
  if (byInstance.length === 1) return byInstance[0]!;
  throw new CliError(
    `No deployment '${target}'. Give a service and an environment (e.g. \`releaseregistry dev\`) or an instance id (\`customer-globex\` or \`prod/customer-globex\`). Known: ${keys.join(', ') || 'none'}`,
    2,
  );
}
