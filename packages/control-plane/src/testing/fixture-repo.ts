/**
 * Builds small platform repos in temp dirs for integration tests: the real Release Registry (from
 * packages/releaseregistry) and, optionally, a fixture service, with absolute code paths.
 */
import http from 'node:http';
import { chmod, cp as copy, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createArtifactStore } from '@msp/runtime-local';

export const releaseRegistryDir = fileURLToPath(new URL('../../../releaseregistry', import.meta.url));

export interface FixtureRepo {
  dir: string;
  registryDomain: string;
}

export async function createFixtureRepo(
  options: { name?: string; envs?: Array<'dev' | 'prod'>; rollout?: boolean } = {},
): Promise<FixtureRepo> {
  const dir = await mkdtemp(join(tmpdir(), `msp-repo-${options.name ?? 'test'}-`));
  await chmod(dir, 0o711);
  const envs = options.envs ?? ['dev'];
  const suffix = Math.random().toString(36).slice(2, 8);
  await writeFile(
    join(dir, 'msp.yaml'),
    [
      'organization:',
      '  name: Test Org',
      `baseDomain: t${suffix}.localhost`,
      'environments:',
      ...envs.flatMap((e) => [
        `  - id: ${e}`,
        `    category: ${e === 'dev' ? 'test' : 'internal'}`,
        '    runtime: local',
      ]),
      '',
    ].join('\n'),
  );
  await mkdir(join(dir, 'services', 'releaseregistry'), { recursive: true });
  await writeFile(join(dir, 'services', 'releaseregistry', 'README.md'), '# Release Registry\n');
  await writeFile(
    join(dir, 'services', 'releaseregistry', 'service.yaml'),
    [
      'service:',
      '  id: releaseregistry',
      '  owners: [platform]',
      '  description: Records product releases.',
      'build:',
      '  local:',
      `    dir: ${JSON.stringify(releaseRegistryDir)}`,
      "    command: ['node', 'dist/main.js']",
      'environments:',
      ...envs.flatMap((e) => [
        `  - id: ${e}`,
        `    projectID: releaseregistry-${e}`,
        `    category: ${e === 'dev' ? 'test' : 'internal'}`,
        `    deploy: { type: ${options.rollout ? 'rollout' : 'manual'} }`,
        `    domain: releaseregistry.${e}.t${suffix}.localhost`,
        '    healthProbes: { healthzProbes: true, timeout: 2 }',
        '    secretEnv: { RELEASE_REGISTRY_TOKEN: releaseregistry-token }',
        '    resources:',
        '      postgreSQL:',
        '        databases: [releaseregistry]',
      ]),
      ...(options.rollout ? ['rollout:', '  stages:', ...envs.map((e) => `    - environment: ${e}`)] : []),
      '',
    ].join('\n'),
  );
  return { dir, registryDomain: `releaseregistry.dev.t${suffix}.localhost` };
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
/**
 * Adds `services/plain` to a fixture repo: a service that declares no database and no volumes (issue 9
 * #11), a one-line HTTP server on the runtime's PORT and HOST, with a dev environment.
 */
export async function addPlainService(repo: FixtureRepo): Promise<void> {
  const plain = join(repo.dir, 'services', 'plain');
  await mkdir(join(plain, 'code'), { recursive: true });
  await writeFile(join(plain, 'README.md'), '# Plain\n');
  await writeFile(
    join(plain, 'code', 'server.js'),
    "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');\n",
  );
  await writeFile(
    join(plain, 'service.yaml'),
    [
      'service: { id: plain, owners: [platform], description: A service without a database. }',
      'build:',
      '  local:',
      '    dir: code',
      "    command: ['node', 'server.js']",
      'environments:',
      '  - id: dev',
      '    projectID: plain-dev',
      '    category: test',
      '    deploy: { type: manual }',
      `    domain: plain.dev.${repo.registryDomain.split('.').slice(2).join('.')}`,
      '',
    ].join('\n'),
  );
}

export async function eventually<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An HTTP request with a chosen Host header (fetch drops it), for requests through the proxy. */
export function requestVia(
  port: number,
  host: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders; json<T = unknown>(): T }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: init.method ?? 'GET',
        headers: { host, 'content-type': 'application/json', ...init.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            text,
            headers: res.headers,
            json: <T>() => JSON.parse(text) as T,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** A copy of the bundle's files with another version in package.json: a real, different release. */
export async function stageRelease(
  from: string,
  into: string,
  patch: Record<string, unknown>,
): Promise<string> {
  const pkg = JSON.parse(await readFile(join(from, 'package.json'), 'utf8')) as { files?: string[] };
  await mkdir(into, { recursive: true });
  for (const f of pkg.files ?? []) await copy(join(from, f), join(into, f), { recursive: true });
  await writeFile(join(into, 'package.json'), JSON.stringify({ ...pkg, ...patch }, null, 2));
  return into;
}

/**
 * Packs a folder and uploads it to a control plane's artifact store with its sha256, as `msp release
 * create --from` does; returns the digest to create the release with (`bundle`).
 */
export async function uploadBundle(cp: { url: string; adminToken: string }, from: string): Promise<string> {
  const scratch = await mkdtemp(join(tmpdir(), 'msp-pack-'));
  try {
    const packed = await createArtifactStore({ root: scratch }).pack(from);
    const put = await fetch(`${cp.url}/api/v1/artifacts/${packed.digest}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/gzip' },
      body: await readFile(packed.path),
    });
    if (put.status !== 201) throw new Error(`upload of ${from} answered ${put.status}: ${await put.text()}`);
    return packed.digest;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
