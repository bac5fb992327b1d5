import { execFile } from 'node:child_process';
import { openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CliError, printJson } from '../cli-support.js';
import { call, connect, type ControlPlaneClient } from '../client.js';
import type { ReleaseCreateOptions } from './release.js';
import { followOperation, soakSeconds } from './rollout-support.js';

async function gitShaOf(dir: string): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('git', ['rev-parse', 'HEAD'], { cwd: dir });
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/**
 * Packs `dir` here (the artifact store's own packing: same files, same bytes, same digest) and uploads
 * the tarball with its sha256; the control plane stores it only if what arrived has that digest.
 */
async function uploadBundle(client: ControlPlaneClient, dir: string, quiet: boolean): Promise<string> {
  const { createArtifactStore } = await import('@msp/runtime-local');
  const scratch = await mkdtemp(join(tmpdir(), 'msp-bundle-'));
  try {
    const packed = await createArtifactStore({ root: scratch }).pack(dir);
    if (!quiet)
      process.stderr.write(
        `packed ${dir}: ${packed.files} files, ${megabytes(packed.size)} (${packed.digest}); uploading\n`,
      );
    await client.send('PUT', `/artifacts/${packed.digest}`, {
      body: await openAsBlob(packed.path),
      headers: { 'content-type': 'application/gzip' },
    });
    return packed.digest;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export async function create(service: string, opts: ReleaseCreateOptions): Promise<void> {
  if (opts.from && opts.image) throw new CliError('Give --from or --image, not both.', 2);
  const client = connect(opts.repo ? { repo: opts.repo } : {});
  const dir = opts.from ? resolve(opts.from) : undefined;
  const bundle = dir ? await uploadBundle(client, dir, opts.json ?? false) : undefined;
  const gitSha = opts.gitSha ?? (dir ? await gitShaOf(dir) : undefined);
  const res = await call(
    client.api.releases.$post({
      json: {
        service,
        version: opts.version,
        ...(bundle ? { bundle } : {}),
        ...(opts.image ? { image: opts.image } : {}),
        ...(gitSha ? { gitSha } : {}),
        ...(opts.development ? { development: true } : {}),
        ...soakSeconds(opts.soak),
      },
    }),
  );
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
  const { releases } = await call(client.api.releases.$get({ query: { service } }));
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
  const r = await call(client.api.releases.publish.$post({ json: { service, version } }));
  if (opts.json) return printJson(r);
  console.log(`${service} ${r.version} is public since ${r.promoted_at}`);
}
