/**
 * A deployment's health from what its runtime reports: "healthy" only when at least its minimum number of
 * instances runs healthy and none of the current ones is unhealthy. Every code path that writes a
 * deployment's status from the runtime (the deploy's record step, health events, restores) asks this.
 */
import type { DeploymentSpec } from '@msp/core';
import type { RuntimeTarget } from '../runtime-port.js';
import type { StateStore } from '../state/store.js';

export type DeploymentHealth = 'healthy' | 'degraded' | 'failed';

/** The instances a deployment must run (`instances.scaling.minCount`, at least 1: the local runtime starts one). */
export function minInstancesOf(spec: Pick<DeploymentSpec, 'environment'>): number {
  return Math.max(1, spec.environment.instances?.scaling?.minCount ?? 1);
}

/** The status (and its detail) of a deployment whose current instances are in `states`. */
export function healthOf(
  spec: Pick<DeploymentSpec, 'environment'>,
  states: readonly string[],
): { status: DeploymentHealth; detail: string | null } {
  const want = Math.max(minInstancesOf(spec), states.length);
  const healthy = states.filter((s) => s === 'healthy').length;
  if (healthy === want) return { status: 'healthy', detail: null };
  const failed = healthy === 0 && states.some((s) => s === 'precondition_failed');
  return { status: failed ? 'failed' : 'degraded', detail: `${healthy}/${want} instances healthy` };
}

/** Statuses the runtime's health moves; any other (deploying, restoring, stopped, …) belongs to an operation. */
export const RUNTIME_STATUSES: ReadonlySet<string> = new Set(['healthy', 'degraded', 'failed']);

/**
 * Writes the status `target` reports for deployment `key` (after an operation started its workload):
 * healthy only with its minimum of healthy instances. Returns what it wrote.
 */
export async function recordHealth(
  store: Pick<StateStore, 'requireDeployment' | 'setStatus'>,
  target: Pick<RuntimeTarget, 'status'>,
  key: string,
): Promise<{ status: DeploymentHealth; detail: string | null }> {
  const row = await store.requireDeployment(key);
  const states = (target.status(key)?.instances ?? []).map((i) => i.state);
  const health = healthOf(row.spec as DeploymentSpec, states);
  await store.setStatus(key, health.status, health.detail);
  return health;
}
