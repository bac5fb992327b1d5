/**
 * Reconciliation plan: desired deployments (from the platform repo) against observed ones (the state
 * store) give the operations that close the gap. Pure: no I/O.
 */
export interface DesiredDeployment {
  readonly key: string;
  readonly specHash: string;
}

export interface ObservedDeployment {
  readonly key: string;
  readonly specHash: string;
  /** What the operator last asked for: running, stopped (removed from the repo, data kept) or deleted. */
  readonly desiredState: 'running' | 'stopped' | 'deleted';
  /** Whether processes of it run right now in this control plane. */
  readonly running: boolean;
  /** An operation is queued or running for it: plan nothing new. */
  readonly busy: boolean;
}

export type PlannedAction =
  | { readonly kind: 'deploy'; readonly key: string; readonly reason: string }
  | { readonly kind: 'stop'; readonly key: string; readonly reason: string };

export function planReconcile(
  desired: readonly DesiredDeployment[],
  observed: readonly ObservedDeployment[],
): PlannedAction[] {
  const seen = new Map(observed.map((o) => [o.key, o]));
  const actions: PlannedAction[] = [];
  for (const d of desired) {
    const o = seen.get(d.key);
    if (!o) {
      actions.push({ kind: 'deploy', key: d.key, reason: 'added to the platform repo' });
    } else if (o.busy) {
      continue;
    } else if (o.desiredState !== 'running') {
      actions.push({ kind: 'deploy', key: d.key, reason: 'back in the platform repo' });
    } else if (o.specHash !== d.specHash) {
      actions.push({ kind: 'deploy', key: d.key, reason: 'changed in the platform repo' });
    } else if (!o.running) {
      actions.push({ kind: 'deploy', key: d.key, reason: 'not running' });
    }
  }
  const wanted = new Set(desired.map((d) => d.key));
  for (const o of observed) {
    if (wanted.has(o.key) || o.busy || o.desiredState !== 'running') continue;
    actions.push({
      kind: 'stop',
      key: o.key,
      reason: 'removed from the platform repo (data kept until deleted)',
    });
  }
  return actions.sort((a, b) => a.key.localeCompare(b.key));
}
