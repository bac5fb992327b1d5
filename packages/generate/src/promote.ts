/**
 * GitOps promotion on Kubernetes: the release the previous stage runs (pinned in its generated
 * kustomization) is written into the next stage's kustomization and committed, as one commit that changes
 * only that reference; Argo CD applies it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { yamlString } from './output.js';
import { InputError, PreconditionFailedError } from '@msp/core';
import type { PlatformRepo } from '@msp/spec';
import { dirOf, releaseOf, selectModels } from './generate.js';
import { KUSTOMIZATION, releaseIn } from './kubernetes/index.js';
import { readGenerated } from './files.js';

const run = promisify(execFile);

export interface PromotionResult {
  service: string;
  from: string;
  to: string;
  release: string;
  /** Repo-relative path of the file changed. */
  file: string;
  /** The commit made; undefined when the stage already ran the release. */
  commit?: string;
}

export async function promoteKubernetes(
  repo: PlatformRepo,
  service: string,
  request: { to?: string; release?: string; author?: string },
): Promise<PromotionResult> {
  const spec = repo.services.find((s) => s.spec.service.id === service)?.spec;
  if (!spec) throw new InputError(`No service \`${service}\` in the platform repo.`);
  const stages = spec.rollout?.stages.map((s) => s.environment) ?? [];
  if (stages.length < 2)
    throw new PreconditionFailedError(
      `${service} has no rollout with two stages or more to promote through.`,
    );
  if (spec.rollout?.suspended)
    throw new PreconditionFailedError(
      `The rollout of ${service} is suspended (rollout.suspended in its service.yaml).`,
    );
  const root = join(repo.root, 'generated');
  const read = readGenerated(root);
  const models = new Map(
    selectModels(repo, { target: 'kubernetes', service })
      .filter((m) => !m.deployment.instance)
      .map((m) => [m.env, m]),
  );
  let toIndex: number;
  if (request.to !== undefined) {
    toIndex = stages.indexOf(request.to);
    if (toIndex < 1)
      throw new InputError(
        `${request.to} is not a later stage of ${service}'s rollout (${stages.join(' → ')}).`,
      );
  } else {
    // The first stage whose release differs from the one before it.
    toIndex = stages.findIndex((env, i) => {
      if (i === 0) return false;
      const prev = models.get(stages[i - 1]!);
      const cur = models.get(env);
      return prev && cur && releaseOf(prev, read) !== releaseOf(cur, read);
    });
    if (toIndex < 1) toIndex = stages.length - 1;
  }
  const fromEnv = stages[toIndex - 1]!;
  const toEnv = stages[toIndex]!;
  const from = models.get(fromEnv);
  const to = models.get(toEnv);
  if (!to)
    throw new PreconditionFailedError(
      `${service}'s stage ${toEnv} does not run on kubernetes: promote it with the control plane.`,
    );
  if (!from && request.release === undefined)
    throw new InputError(
      `${service}'s stage ${fromEnv} does not run on kubernetes, so its release is not in generated/: pass --release <version> to promote it to ${toEnv}.`,
    );
  const release = request.release ?? releaseOf(from!, read);
  const path = `${dirOf('kubernetes', to)}/${KUSTOMIZATION}`;
  const file = join(root, path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new PreconditionFailedError(
      `generated/${path} does not exist: run \`msp generate --target kubernetes\` and commit it first.`,
    );
  }
  const current = releaseIn(text);
  const result: PromotionResult = { service, from: fromEnv, to: toEnv, release, file: `generated/${path}` };
  if (current === release) return result;
  if (current === undefined)
    throw new PreconditionFailedError(`generated/${path} pins no release: run \`msp generate\` first.`);
  // Only the pinned tag changes: the rest of the file stays byte for byte.
  const next = text.replace(/^(\s*newTag:\s*).*$/m, `$1${yamlString(release)}`);
  if (releaseIn(next) !== release) throw new Error(`could not rewrite the release in generated/${path}`);
  await writeFile(file, next);
  const git = (...args: string[]) => run('git', ['-C', repo.root, ...args]);
  await git('add', '--', `generated/${path}`);
  await git(
    'commit',
    '--only',
    '-m',
    `Promote ${service} ${release} from ${fromEnv} to ${toEnv}`,
    ...(request.author ? ['--author', request.author] : []),
    '--',
    `generated/${path}`,
  );
  const { stdout } = await git('rev-parse', 'HEAD');
  return { ...result, commit: stdout.trim() };
}
