/**
 * A deployment's health from what its runtime reports: "healthy" only when at least its minimum number of
 * instances runs healthy and none of the current ones is unhealthy. Every code path that writes a
 * deployment's status from the runtime (the deploy's record step, health events, restores) asks this.
 */
import type { DeploymentSpec } from '@msp/core';

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
