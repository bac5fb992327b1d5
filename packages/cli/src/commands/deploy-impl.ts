import { printJson } from '../cli-support.js';
import { call, connect } from '../client.js';
import type { RolloutOptions } from './rollout.js';
import { followOperation, soakSeconds } from './rollout-support.js';

export async function deployRelease(
  service: string,
  env: string,
  opts: RolloutOptions & { release: string },
): Promise<void> {
  const client = connect(opts.repo ? { repo: opts.repo } : {});
  const res = await call(
    client.api.rollouts.deploy.$post({
      json: { service, environment: env, version: opts.release, ...soakSeconds(opts.soak) },
    }),
  );
  if (!opts.json) process.stderr.write(`deploying ${service} ${opts.release} to ${env}\n`);
  if (opts.wait === false)
    return opts.json ? printJson(res) : console.log(`queued: operation ${res.operation.id}`);
  await followOperation(client, res.operation.id, { json: opts.json ?? false });
  if (!opts.json) console.log(`${service} ${opts.release} is live on ${env}`);
}
