/**
 * `msp rollout promote` on a Kubernetes stage: no control plane runs it, so the promotion is a commit of
 * the new release into the stage's generated kustomization (Argo CD applies it). Loaded only by promote.
 */
import { resolve } from 'node:path';
import { loadPlatformRepo } from '@msp/spec';
import { isMspError } from '@msp/core';
import { CliError, printJson } from '../cli-support.js';
import { defaultRepo } from '../repo-default.js';
import type { RolloutOptions } from './rollout.js';

/** Promotes by commit when the stage promoted to runs on kubernetes; false when the control plane should. */
export async function promoteByCommit(
  service: string,
  opts: RolloutOptions & { to?: string; release?: string },
): Promise<boolean> {
  const { repo } = await loadPlatformRepo(resolve(opts.repo ?? defaultRepo()));
  const spec = repo?.services.find((s) => s.spec.service.id === service)?.spec;
  if (!repo || !spec?.rollout) return false;
  const runtimes = new Map(repo.platform.environments.map((e) => [e.id, e.runtime]));
  const stages = spec.rollout.stages.map((s) => s.environment);
  const later = opts.to !== undefined ? [opts.to] : stages.slice(1);
  if (!later.some((env) => runtimes.get(env) === 'kubernetes')) return false;
  if (later.some((env) => runtimes.get(env) !== 'kubernetes'))
    throw new CliError(
      `${service}'s later stages run on different runtimes (${later.map((e) => `${e}: ${runtimes.get(e)}`).join(', ')}): pass --to <env>`,
      2,
    );
  const { promoteKubernetes } = await import('@msp/generate');
  try {
    const result = await promoteKubernetes(repo, service, {
      ...(opts.to !== undefined ? { to: opts.to } : {}),
      ...(opts.release !== undefined ? { release: opts.release } : {}),
    });
    if (opts.json) printJson({ ...result, runtime: 'kubernetes' });
    else if (result.commit === undefined)
      console.log(
        `${service} ${result.to} already pins ${result.release} (${result.file}); nothing to commit`,
      );
    else
      console.log(
        `${service} ${result.release}: ${result.from} → ${result.to}, committed ${result.commit.slice(0, 12)} (${result.file}); Argo CD applies it`,
      );
    return true;
  } catch (error) {
    if (isMspError(error)) throw error;
    throw new CliError(`could not commit the promotion: ${(error as Error).message}`);
  }
}
