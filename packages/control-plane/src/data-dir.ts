/**
 * The data dir (`<repo>/.msp` by default): state database, clusters, WAL archive, volumes, logs, and the
 * address + token the CLI uses to find the running control plane. The dir itself is 0711 so the
 * unprivileged PostgreSQL user can reach its own cluster dir without being able to list the secrets here.
 */
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

export interface DataDir {
  root: string;
  stateCluster: string;
  clusters: string;
  archive: string;
  volumes: string;
  logs: string;
  run: string;
  secretKey: string;
  adminToken: string;
  endpoint: string;
  stateConfig: string;
}

export function dataDirOf(root: string): DataDir {
  const r = resolve(root);
  return {
    root: r,
    stateCluster: join(r, 'state'),
    clusters: join(r, 'clusters'),
    archive: join(r, 'archive'),
    volumes: join(r, 'volumes'),
    logs: join(r, 'logs'),
    run: join(r, 'run'),
    secretKey: join(r, 'secret.key'),
    adminToken: join(r, 'admin-token'),
    endpoint: join(r, 'control-plane.json'),
    stateConfig: join(r, 'state.json'),
  };
}

export async function prepareDataDir(dir: DataDir): Promise<void> {
  await mkdir(dir.root, { recursive: true, mode: 0o711 });
  await chmod(dir.root, 0o711);
  for (const d of [dir.clusters, dir.archive, dir.volumes]) {
    await mkdir(d, { recursive: true, mode: 0o711 });
  }
  for (const d of [dir.logs, dir.run]) await mkdir(d, { recursive: true, mode: 0o700 });
}

/** A file-system-safe name for a deployment key: "releaseregistry/dev" → "releaseregistry--dev". */
export function slugOf(key: string): string {
  return key.replace(/\//g, '--');
}

/** Where a running control plane says it listens; read by the CLI. */
export interface Endpoint {
  url: string;
  proxyUrl?: string;
  pid: number;
  startedAt: string;
  repo: string;
}

export async function writeEndpoint(dir: DataDir, endpoint: Endpoint): Promise<void> {
  await writeFile(dir.endpoint, JSON.stringify(endpoint, null, 2) + '\n', { mode: 0o644 });
}

export async function removeEndpoint(dir: DataDir, pid: number): Promise<void> {
  const current = await readJson<Endpoint>(dir.endpoint);
  if (current?.pid === pid) await rm(dir.endpoint, { force: true });
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Writes a secret file readable by its owner only. */
export async function writeSecretFile(file: string, content: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, content, { mode: 0o600 });
  await chmod(file, 0o600);
}
