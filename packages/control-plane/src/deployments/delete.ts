/**
 * Deleting a deployment destroys its data. One still declared in the platform repo would be re-created
 * empty by the reconciler at once, so its deletion is refused unless the request names it in `confirm`;
 * then a final backup is taken before the data goes (the `final-backup` step of the delete operation).
 */
import { deploymentsOf, loadPlatformRepo } from '@msp/spec';
import { InputError, PreconditionFailedError } from '@msp/core';

/** The input of a delete operation (what `deletionInput` returns is enqueued with it). */
export interface DeletionInput {
  /** Take a final backup (base backup and volume snapshots) before any data is removed. */
  finalBackup?: boolean;
}

/** The deployment keys the platform repo declares; undefined when the repo does not load or validate. */
export async function declaredDeploymentKeys(repoDir: string): Promise<ReadonlySet<string> | undefined> {
  const { repo, diagnostics } = await loadPlatformRepo(repoDir);
  if (!repo || diagnostics.length > 0) return undefined;
  return new Set(deploymentsOf(repo).map((d) => d.key));
}

/**
 * Decides whether `key` may be deleted: a deployment the repo declares (or may declare: `declared` is
 * undefined when the repo does not validate) needs `confirm` equal to its key, and is then deleted after a
 * final backup. Throws PreconditionFailedError (412) without the confirmation, InputError for a wrong one.
 */
export function deletionRequest(
  key: string,
  confirm: string | undefined,
  declared: ReadonlySet<string> | undefined,
): DeletionInput {
  if (confirm !== undefined && confirm !== key) {
    throw new InputError(
      `confirm must be the deployment's key, ${JSON.stringify(key)}; it was ${JSON.stringify(confirm)}.`,
    );
  }
  const inRepo =
    declared === undefined
      ? 'may still be declared in the platform repo (it does not validate now)'
      : declared.has(key)
        ? 'is still declared in the platform repo'
        : undefined;
  if (!inRepo) return confirm === key ? { finalBackup: true } : {};
  if (confirm === key) return { finalBackup: true };
  throw new PreconditionFailedError(
    `Deployment ${key} ${inRepo}: deleting it destroys its data and the reconciler re-creates it empty. ` +
      `Remove it from the platform repo (the reconciler stops it, data kept), or delete it anyway with ` +
      `\`msp delete ... --confirm ${key}\` (API: {"confirm": ${JSON.stringify(key)}}): a final backup is taken first.`,
    { details: { deployment: key } },
  );
}

/** `deletionRequest` against the platform repo in `repoDir`: the input of the delete operation to enqueue. */
export async function deletionInput(
  key: string,
  confirm: string | undefined,
  repoDir: string,
): Promise<DeletionInput> {
  return deletionRequest(key, confirm, await declaredDeploymentKeys(repoDir));
}
