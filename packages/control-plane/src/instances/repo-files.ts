/**
 * An instance's `environments/<env>/deployments/<id>/config.yaml` in the platform repo: written, changed
 * (comments kept) and removed by the playbooks, each change committed with git so the repo's log is the
 * instance's history. A repo that is not a git work tree gets the file but no commit (said in the step).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { parseDocument, stringify } from 'yaml';
import { formatDiagnostic, deploymentsOf, loadPlatformRepo } from '@msp/spec';
import { InputError, type DeploymentSpec } from '@msp/core';
import { specHash } from '../reconciler.js';

const run = promisify(execFile);

export const instanceFile = (env: string, id: string) => `environments/${env}/deployments/${id}/config.yaml`;
export const instanceKey = (env: string, id: string) => `instance/${env}/${id}`;

/** `instance/<env>/<id>` → its parts; InputError for anything else. */
export function parseInstanceKey(key: string): { env: string; id: string } {
  const m = /^instance\/([^/]+)\/([^/]+)$/.exec(key);
  if (!m) throw new InputError(`'${key}' is not an instance (instance/<env>/<id>).`);
  return { env: m[1]!, id: m[2]! };
}

async function writeAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** Writes a new config.yaml (fields in the order given; undefined ones left out). */
export async function writeInstanceFile(
  repoDir: string,
  env: string,
  id: string,
  fields: Record<string, unknown>,
  comment: string,
): Promise<void> {
  const clean = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  const text = `# ${comment}\n${stringify(clean)}`;
  const folder = join(repoDir, dirname(instanceFile(env, id)));
  if (existsSync(folder)) return writeAtomically(join(folder, 'config.yaml'), text);
  // A folder without its config.yaml does not validate: built under a dot name (the loader skips those),
  // then renamed into place, so nobody loading the repo meanwhile sees half an instance.
  const building = join(dirname(folder), `.${id}.${process.pid}.new`);
  await rm(building, { recursive: true, force: true });
  await mkdir(building, { recursive: true });
  await writeFile(join(building, 'config.yaml'), text);
  await rename(building, folder);
}

/** Sets fields of an existing config.yaml, keeping its comments and the order of the others. */
export async function updateInstanceFile(
  repoDir: string,
  env: string,
  id: string,
  patch: Record<string, unknown>,
): Promise<void> {
  const path = join(repoDir, instanceFile(env, id));
  const doc = parseDocument(await readFile(path, 'utf8'));
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) doc.delete(k);
    else doc.set(k, v);
  }
  await writeAtomically(path, doc.toString());
}

export async function removeInstanceDir(repoDir: string, env: string, id: string): Promise<void> {
  await rm(join(repoDir, dirname(instanceFile(env, id))), { recursive: true, force: true });
}

export async function readInstanceFile(
  repoDir: string,
  env: string,
  id: string,
): Promise<Record<string, unknown> | undefined> {
  try {
    return parseDocument(await readFile(join(repoDir, instanceFile(env, id)), 'utf8')).toJS() as Record<
      string,
      unknown
    >;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Commits the instance's folder (only it) with `message`; idempotent: nothing to commit (a resumed step)
 * returns the current HEAD. Returns undefined when the repo is not a git work tree.
 */
/** Git takes one writer at a time (index.lock): this process's commits queue per repo. */
const queues = new Map<string, Promise<unknown>>();
function serialized<T>(repoDir: string, fn: () => Promise<T>): Promise<T> {
  const next = (queues.get(repoDir) ?? Promise.resolve()).then(fn, fn);
  queues.set(
    repoDir,
    next.catch(() => undefined),
  );
  return next;
}

export function commitInstance(
  repoDir: string,
  env: string,
  id: string,
  message: string,
  author: string,
): Promise<string | undefined> {
  return serialized(repoDir, () => commitNow(repoDir, env, id, message, author));
}

async function commitNow(
  repoDir: string,
  env: string,
  id: string,
  message: string,
  author: string,
): Promise<string | undefined> {
  const git = (...args: string[]) => run('git', args, { cwd: repoDir, env: gitEnv(author) });
  try {
    await git('rev-parse', '--is-inside-work-tree');
  } catch {
    return undefined;
  }
  const folder = dirname(instanceFile(env, id));
  await git('add', '--all', '--', folder);
  const staged = await git('diff', '--cached', '--name-only', '--', folder);
  if (staged.stdout.trim() !== '') await git('commit', '--quiet', '-m', message, '--', folder);
  return (await git('rev-parse', 'HEAD')).stdout.trim();
}

function gitEnv(author: string): NodeJS.ProcessEnv {
  const name = `${author} (via msp)`;
  return {
    ...process.env,
    GIT_AUTHOR_NAME: name,
    GIT_AUTHOR_EMAIL: 'msp@localhost',
    GIT_COMMITTER_NAME: 'msp',
    GIT_COMMITTER_EMAIL: 'msp@localhost',
  };
}

/**
 * The deployment spec of instance `key` as the reconciler builds it from the repo (so the reconciler finds
 * nothing to change after a playbook); InputError naming every problem when the repo does not validate.
 */
export async function instanceSpecOf(
  repoDir: string,
  key: string,
): Promise<{ spec: DeploymentSpec; hash: string } | undefined> {
  const { repo, diagnostics } = await loadPlatformRepo(repoDir);
  if (!repo || diagnostics.length > 0) {
    throw new InputError(
      `The platform repo does not validate: ${diagnostics.map(formatDiagnostic).join('; ')}`,
    );
  }
  const dirs = new Map(repo.services.map((s) => [s.spec.service.id, s.dir]));
  const d = deploymentsOf(repo).find((x) => x.key === key);
  if (!d) return undefined;
  const spec: DeploymentSpec = {
    key: d.key,
    kind: d.kind,
    service: d.service,
    environment: d.environment,
    envConfig: d.envConfig,
    serviceDir: dirs.get(d.service.service.id)!,
    platformName: repo.platform.organization.name,
  };
  if (d.instance) spec.instance = d.instance;
  if (d.domain) spec.domain = d.domain;
  return { spec, hash: specHash(spec) };
}
