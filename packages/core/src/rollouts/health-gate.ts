/**
 * The health gate of a release switch, as a pure verdict over what the instances report. Two phases:
 * `startup` (new instances must become healthy before any traffic moves to them) and `soak` (after the
 * switch, health failures or a crash move traffic back to the previous release).
 */

export interface GateInstance {
  readonly id: string;
  /** The supervisor's state kind: starting, healthy, unhealthy, restarting, precondition_failed, … */
  readonly state: string;
  /** Restarts since the instance was started for this release. */
  readonly restarts: number;
  readonly reason?: string;
}

export interface GateObservation {
  readonly phase: 'startup' | 'soak';
  readonly instances: readonly GateInstance[];
  /** Since the phase began. */
  readonly elapsedMs: number;
  /** startup: how long instances may take to become healthy; soak: how long the soak lasts. */
  readonly limitMs: number;
  /** soak: failed health probes in a row of the worst instance (from the gate's own probes). */
  readonly probeFailures?: number;
  /** Failed probes in a row that fail the soak (default 2). */
  readonly probeFailureThreshold?: number;
  /** Restarts during startup that count as a crash loop (default 2). */
  readonly crashLoopRestarts?: number;
}

export type GateVerdict =
  { readonly kind: 'pass' } | { readonly kind: 'wait' } | { readonly kind: 'fail'; readonly reason: string };

export function healthGateVerdict(o: GateObservation): GateVerdict {
  const broken = o.instances.find((i) => i.state === 'precondition_failed');
  if (broken) {
    return {
      kind: 'fail',
      reason: `${broken.id} could not start: ${broken.reason ?? 'precondition failed'}`,
    };
  }
  if (o.phase === 'startup') {
    const crashLoop = o.crashLoopRestarts ?? 2;
    const looping = o.instances.find((i) => i.restarts >= crashLoop);
    if (looping) {
      return {
        kind: 'fail',
        reason: `crash loop: ${looping.id} restarted ${looping.restarts} times before becoming healthy${looping.reason ? ` (${looping.reason})` : ''}`,
      };
    }
    if (o.instances.length > 0 && o.instances.every((i) => i.state === 'healthy')) return { kind: 'pass' };
    if (o.elapsedMs >= o.limitMs) {
      const slow = o.instances.find((i) => i.state !== 'healthy');
      return {
        kind: 'fail',
        reason: `startup probe timeout: ${slow?.id ?? 'no instance'} not healthy after ${Math.round(o.elapsedMs / 1000)} s (${slow?.state ?? 'missing'}${slow?.reason ? `: ${slow.reason}` : ''})`,
      };
    }
    return { kind: 'wait' };
  }
  const crashed = o.instances.find(
    (i) => i.restarts > 0 || (i.state !== 'healthy' && i.state !== 'unhealthy'),
  );
  if (crashed) {
    return {
      kind: 'fail',
      reason: `${crashed.id} ${crashed.restarts > 0 ? 'crashed' : `became ${crashed.state}`} during the soak${crashed.reason ? ` (${crashed.reason})` : ''}`,
    };
  }
  const threshold = o.probeFailureThreshold ?? 2;
  const unhealthy = o.instances.find((i) => i.state === 'unhealthy');
  if ((o.probeFailures ?? 0) >= threshold || unhealthy) {
    return {
      kind: 'fail',
      reason: `health checks failed during the soak (${o.probeFailures ?? 0} in a row${unhealthy ? `; ${unhealthy.id} unhealthy` : ''})`,
    };
  }
  if (o.elapsedMs >= o.limitMs) return { kind: 'pass' };
  return { kind: 'wait' };
}
