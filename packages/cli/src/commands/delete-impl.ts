import { printJson } from '../cli-support.js';
import { call, connect, segment } from '../client.js';
import { resolveKey } from '../deployment-key.js';
import type { DeleteOptions } from './delete.js';
import { followOperation } from './rollout-support.js';

export async function deleteDeployment(
  target: string,
  env: string | undefined,
  opts: DeleteOptions,
): Promise<void> {
  const client = connect(opts.repo ? { repo: opts.repo } : {});
  const key = await resolveKey(client, target, env);
  const op = await call(
    client.api.deployments[':key'].delete.$post({
      param: { key: segment(key) },
      json: {
        ...(opts.confirm !== undefined ? { confirm: opts.confirm } : {}),
        ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
      },
    }),
  );
  if (!opts.json) process.stderr.write(`deleting ${key}: operation ${op.id}\n`);
  if (opts.wait === false) return opts.json ? printJson(op) : console.log(`queued: operation ${op.id}`);
  await followOperation(client, op.id, { json: opts.json ?? false });
  if (!opts.json) console.log(`${key} is deleted; its backups are kept (\`msp backup list\` by id)`);
}
