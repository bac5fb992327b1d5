import { describeRecord } from '@msp/core';
import { printJson } from '../cli-support.js';
import { call, connect } from '../client.js';
import type { RolloutOptions } from './rollout.js';
import { followOperation, soakSeconds } from './rollout-support.js';

const clientOf = (opts: RolloutOptions) => connect(opts.repo ? { repo: opts.repo } : {});

export async function promote(
  service: string,
  opts: RolloutOptions & { to?: string; release?: string },
): Promise<void> {
  // A Kubernetes stage is promoted by a commit to its generated manifests, not by the control plane.
  if (await (await import('./rollout-gitops.js')).promoteByCommit(service, opts)) return;
  const client = clientOf(opts);
  const res = await call(
    client.api.rollouts.promote.$post({
      json: {
        service,
        ...(opts.to ? { to: opts.to } : {}),
        ...(opts.release ? { version: opts.release } : {}),
        ...soakSeconds(opts.soak),
      },
    }),
  );
  if (!opts.json)
    process.stderr.write(`promoting ${service} ${res.move.version}: ${res.move.from} → ${res.move.to}\n`);
  if (opts.wait === false) {
    if (opts.json) printJson(res);
    else console.log(`queued: operation ${res.operation.id}`);
    return;
  }
  await followOperation(client, res.operation.id, { json: opts.json ?? false });
  if (!opts.json) console.log(`${service} ${res.move.version} is live on ${res.move.to}`);
}

export async function status(service: string, opts: RolloutOptions): Promise<void> {
  const s = await call(clientOf(opts).api.rollouts.status.$get({ query: { service } }));
  if (opts.json) return printJson(s);
  console.log(
    `${s.service}: ${s.stages.map((x) => x.environment).join(' → ')}${s.suspended ? '  (SUSPENDED)' : ''}`,
  );
  for (const st of s.stages) {
    const healthy = st.instances.filter((i) => i.state === 'healthy').length;
    console.log(
      `  ${st.environment.padEnd(8)} ${(st.release ?? '-').padEnd(10)} ${st.status} (${healthy}/${st.instances.length} healthy)` +
        `${st.previous ? `  previous ${st.previous}` : ''}${st.operation ? `  operation ${st.operation} running` : ''}` +
        `${st.pendingCandidates.length ? `  candidates: ${st.pendingCandidates.join(', ')}` : ''}` +
        `${st.statusDetail ? `\n           ${st.statusDetail}` : ''}`,
    );
  }
}

export async function suspend(
  service: string,
  verb: 'suspend' | 'resume',
  opts: RolloutOptions,
): Promise<void> {
  const api = clientOf(opts).api.rollouts;
  const r = await call((verb === 'suspend' ? api.suspend : api.resume).$post({ json: { service } }));
  if (opts.json) return printJson(r);
  console.log(`the rollout pipeline of ${service} is ${r.suspended ? 'suspended' : 'running again'}`);
}

export async function rollback(service: string, env: string, opts: RolloutOptions): Promise<void> {
  const client = clientOf(opts);
  const res = await call(
    client.api.rollouts.rollback.$post({
      json: { service, environment: env, ...soakSeconds(opts.soak) },
    }),
  );
  const version = res.operation.input.version as string;
  if (!opts.json) process.stderr.write(`rolling ${service} ${env} back to ${version}\n`);
  if (opts.wait === false)
    return opts.json ? printJson(res) : console.log(`queued: operation ${res.operation.id}`);
  await followOperation(client, res.operation.id, { json: opts.json ?? false });
  if (!opts.json) console.log(`${service} ${env} runs ${version} again`);
}

export async function history(service: string, opts: RolloutOptions): Promise<void> {
  const r = await call(clientOf(opts).api.rollouts.history.$get({ query: { service } }));
  if (opts.json) return printJson(r.history);
  if (r.history.length === 0) return console.log(`no deliveries or promotions of ${service} yet`);
  for (const h of r.history) console.log(describeRecord(h));
}
