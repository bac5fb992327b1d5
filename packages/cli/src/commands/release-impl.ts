import { resolve } from 'node:path';
import { printJson } from '../cli-support.js';
import { connect } from '../client.js';
import type { ReleaseCreateOptions } from './release.js';
import { followOperation, soakSeconds } from './rollout-support.js';

interface ReleaseView {
  name: string;
  version: string;
  git_sha: string;
  public: boolean;
  is_development: boolean;
  created_at: string;
  artifacts: Array<{ digest: string; kind: string; url: string }>;
}

export async function create(service: string, opts: ReleaseCreateOptions): Promise<void> {
  const client = connect(opts.repo ? { repo: opts.repo } : {});
  const res = await client.post<{
    release: ReleaseView;
    operation: { id: string } | null;
    deliveredTo: string | null;
  }>('/releases', {
    service,
    version: opts.version,
    ...(opts.from ? { from: resolve(opts.from) } : {}),
    ...(opts.image ? { image: opts.image } : {}),
    ...(opts.gitSha ? { gitSha: opts.gitSha } : {}),
    ...(opts.development ? { development: true } : {}),
    ...soakSeconds(opts.soak),
  });
  if (!opts.json) {
    process.stderr.write(
      `${service} ${res.release.version} registered (${res.release.artifacts[0]?.digest ?? 'no artifact'})\n`,
    );
  }
  if (res.operation && opts.wait !== false) {
    if (!opts.json) process.stderr.write(`delivering to ${res.deliveredTo}:\n`);
    const op = await followOperation(client, res.operation.id, { json: opts.json ?? false });
    if (!opts.json)
      console.log(`${service} ${res.release.version} is live on ${res.deliveredTo} (operation ${op.id})`);
    return;
  }
  if (opts.json) printJson(res);
  else if (res.operation) console.log(`delivery to ${res.deliveredTo} queued: operation ${res.operation.id}`);
  else console.log(`${service} ${res.release.version} registered; no rollout pipeline delivers it`);
}

export async function list(service: string, opts: { repo?: string; json?: boolean }): Promise<void> {
  const client = connect(opts.repo ? { repo: opts.repo } : {});
  const { releases } = await client.get<{ releases: ReleaseView[] }>(
    `/releases?service=${encodeURIComponent(service)}`,
  );
  if (opts.json) return printJson(releases);
  if (releases.length === 0) return console.log(`${service} has no releases yet (\`msp release create\`).`);
  for (const r of releases) {
    const flags = [r.public ? 'public' : 'internal', ...(r.is_development ? ['development'] : [])].join(', ');
    console.log(
      `${r.version.padEnd(12)} ${r.created_at}  ${flags.padEnd(22)} ${r.git_sha.slice(0, 10)}  ${r.artifacts[0]?.digest.slice(0, 19) ?? ''}`,
    );
  }
}

export async function publish(
  service: string,
  version: string,
  opts: { repo?: string; json?: boolean },
): Promise<void> {
  const client = connect(opts.repo ? { repo: opts.repo } : {});
  const r = await client.post<ReleaseView & { promoted_at: string }>('/releases/publish', {
    service,
    version,
  });
  if (opts.json) return printJson(r);
  console.log(`${service} ${r.version} is public since ${r.promoted_at}`);
}
