/**
 * The life of one supervised instance as data: a `kind`-tagged state, the events that move it, and a pure
 * transition function that returns the next machine and the side effects the supervisor must perform.
 * No processes, sockets or clocks here: `at` comes in with every event.
 */

export type InstanceState =
  | { readonly kind: 'starting'; readonly since: number }
  | { readonly kind: 'healthy'; readonly since: number }
  | { readonly kind: 'unhealthy'; readonly since: number; readonly failures: number }
  | {
      readonly kind: 'restarting';
      readonly since: number;
      readonly backoffMs: number;
      readonly reason: string;
    }
  | { readonly kind: 'precondition_failed'; readonly since: number; readonly reason: string }
  | { readonly kind: 'stopping'; readonly since: number }
  | { readonly kind: 'stopped'; readonly since: number };

export type InstanceStateKind = InstanceState['kind'];

export type InstanceEvent =
  | { readonly type: 'spawned'; readonly at: number }
  /** The process could not be created at all (ENOENT, EACCES, missing cwd): retrying will not help. */
  | { readonly type: 'spawn_failed'; readonly at: number; readonly error: string }
  | { readonly type: 'probe_ok'; readonly at: number }
  | { readonly type: 'probe_failed'; readonly at: number; readonly error: string }
  | { readonly type: 'startup_timeout'; readonly at: number; readonly error: string }
  | {
      readonly type: 'exited';
      readonly at: number;
      readonly code: number | null;
      readonly signal: string | null;
    }
  | { readonly type: 'backoff_elapsed'; readonly at: number }
  | { readonly type: 'stop'; readonly at: number };

export type InstanceEffect =
  | { readonly type: 'spawn' }
  /** Kill the process group because it failed; its exit event then drives the restart. */
  | { readonly type: 'kill'; readonly reason: string }
  | { readonly type: 'schedule_restart'; readonly delayMs: number }
  | { readonly type: 'terminate' };

export interface RestartPolicy {
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  /** Healthy this long before a crash: the next restart starts from the initial backoff again. */
  readonly resetAfterMs: number;
  /** Consecutive exits before the first healthy probe that make the instance precondition_failed. */
  readonly maxFailedStarts: number;
  readonly failureThreshold: number;
}

export const defaultRestartPolicy: RestartPolicy = {
  initialBackoffMs: 250,
  maxBackoffMs: 10_000,
  resetAfterMs: 60_000,
  maxFailedStarts: 3,
  failureThreshold: 3,
};

export interface InstanceMachine {
  readonly state: InstanceState;
  readonly restarts: number;
  /** Exits in a row without ever becoming healthy. */
  readonly failedStarts: number;
  readonly nextBackoffMs: number;
  readonly startedAt: number | undefined;
  readonly healthySince: number | undefined;
  readonly startupLatencyMs: number | undefined;
  readonly lastError: string | undefined;
  /** Set while a kill we asked for is in progress, so the exit is reported with its real reason. */
  readonly killReason: string | undefined;
}

export function initialMachine(at: number, policy: RestartPolicy = defaultRestartPolicy): InstanceMachine {
  return {
    state: { kind: 'starting', since: at },
    restarts: 0,
    failedStarts: 0,
    nextBackoffMs: policy.initialBackoffMs,
    startedAt: undefined,
    healthySince: undefined,
    startupLatencyMs: undefined,
    lastError: undefined,
    killReason: undefined,
  };
}

export interface Transition {
  readonly machine: InstanceMachine;
  readonly effects: readonly InstanceEffect[];
}

function describeExit(code: number | null, signal: string | null): string {
  return signal !== null ? `exited on signal ${signal}` : `exited with code ${code ?? 'unknown'}`;
}

/** The pure transition function. Events that do not apply to the current state are ignored. */
export function transition(
  m: InstanceMachine,
  event: InstanceEvent,
  policy: RestartPolicy = defaultRestartPolicy,
): Transition {
  const at = event.at;
  const kind = m.state.kind;
  const same: Transition = { machine: m, effects: [] };

  if (kind === 'stopped' || kind === 'precondition_failed') {
    return same;
  }

  if (event.type === 'stop') {
    if (kind === 'stopping') return same;
    if (kind === 'restarting') {
      // Nothing runs between a crash and its restart: stopped at once.
      return { machine: { ...m, state: { kind: 'stopped', since: at } }, effects: [] };
    }
    return { machine: { ...m, state: { kind: 'stopping', since: at } }, effects: [{ type: 'terminate' }] };
  }

  if (kind === 'stopping') {
    if (event.type === 'exited' || event.type === 'spawn_failed') {
      return { machine: { ...m, state: { kind: 'stopped', since: at }, killReason: undefined }, effects: [] };
    }
    return same;
  }

  switch (event.type) {
    case 'spawned':
      if (kind !== 'starting') return same;
      return { machine: { ...m, startedAt: at, state: { kind: 'starting', since: at } }, effects: [] };

    case 'spawn_failed':
      return {
        machine: {
          ...m,
          lastError: event.error,
          state: { kind: 'precondition_failed', since: at, reason: event.error },
        },
        effects: [],
      };

    case 'probe_ok':
      if (m.killReason !== undefined) return same;
      if (kind === 'starting') {
        return {
          machine: {
            ...m,
            failedStarts: 0,
            healthySince: at,
            startupLatencyMs: m.startedAt === undefined ? undefined : at - m.startedAt,
            state: { kind: 'healthy', since: at },
          },
          effects: [],
        };
      }
      if (kind === 'unhealthy') {
        return { machine: { ...m, state: { kind: 'healthy', since: at } }, effects: [] };
      }
      return same;

    case 'probe_failed': {
      if (m.killReason !== undefined) return same;
      if (kind === 'healthy') {
        const failures = 1;
        const next: InstanceMachine = {
          ...m,
          lastError: event.error,
          state: { kind: 'unhealthy', since: at, failures },
        };
        return failures >= policy.failureThreshold
          ? killFor(next, event.error, policy)
          : { machine: next, effects: [] };
      }
      if (kind === 'unhealthy') {
        const failures = m.state.failures + 1;
        const next: InstanceMachine = {
          ...m,
          lastError: event.error,
          state: { kind: 'unhealthy', since: m.state.since, failures },
        };
        return failures >= policy.failureThreshold
          ? killFor(next, event.error, policy)
          : { machine: next, effects: [] };
      }
      // Startup probes fail until the process listens; only the deadline counts (and says the last error),
      // so lastError keeps the reason of the last restart meanwhile.
      return same;
    }

    case 'startup_timeout':
      if (kind !== 'starting' || m.killReason !== undefined) return same;
      return {
        machine: { ...m, lastError: event.error, killReason: event.error },
        effects: [{ type: 'kill', reason: event.error }],
      };

    case 'exited': {
      if (kind === 'restarting') return same;
      const reason = m.killReason ?? describeExit(event.code, event.signal);
      if (kind === 'starting') {
        const failedStarts = m.failedStarts + 1;
        if (failedStarts >= policy.maxFailedStarts) {
          const why = `the process ${reason} before becoming healthy, ${failedStarts} times in a row`;
          return {
            machine: {
              ...m,
              failedStarts,
              killReason: undefined,
              lastError: why,
              state: { kind: 'precondition_failed', since: at, reason: why },
            },
            effects: [],
          };
        }
        return restartAfter({ ...m, failedStarts }, reason, at, policy);
      }
      // healthy or unhealthy: a crash (or our liveness kill) of a process that had been serving.
      const servedLongEnough = m.healthySince !== undefined && at - m.healthySince >= policy.resetAfterMs;
      return restartAfter(
        servedLongEnough ? { ...m, nextBackoffMs: policy.initialBackoffMs } : m,
        reason,
        at,
        policy,
      );
    }

    case 'backoff_elapsed':
      if (kind !== 'restarting') return same;
      return {
        machine: {
          ...m,
          state: { kind: 'starting', since: at },
          startedAt: undefined,
          healthySince: undefined,
        },
        effects: [{ type: 'spawn' }],
      };
  }
}

function killFor(m: InstanceMachine, error: string, policy: RestartPolicy): Transition {
  const reason = `liveness probe failed ${policy.failureThreshold} times in a row (last: ${error})`;
  return { machine: { ...m, killReason: reason, lastError: reason }, effects: [{ type: 'kill', reason }] };
}

function restartAfter(m: InstanceMachine, reason: string, at: number, policy: RestartPolicy): Transition {
  const backoffMs = m.nextBackoffMs;
  return {
    machine: {
      ...m,
      restarts: m.restarts + 1,
      nextBackoffMs: Math.min(backoffMs * 2, policy.maxBackoffMs),
      killReason: undefined,
      lastError: reason,
      state: { kind: 'restarting', since: at, backoffMs, reason },
    },
    effects: [{ type: 'schedule_restart', delayMs: backoffMs }],
  };
}
