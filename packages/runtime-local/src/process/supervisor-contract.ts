/**
 * The supervisor's contract: what to run (InstanceSpec, probes), what it reports (InstanceStatus,
 * events), and its options. The supervisor itself is in supervisor.ts.
 */
import type { InstanceState, RestartPolicy } from './instance-state.js';

/** The address every instance binds (its `HOST`) and is probed and proxied at. */
export const LOOPBACK = '127.0.0.1';

export interface ProbeSpec {
  readonly path: '/-/healthz' | (string & {});
  readonly secret: string;
  readonly timeoutMs: number;
  /** Startup probes back off from 50 ms up to this interval, so a fast process is seen healthy fast. */
  readonly startupIntervalMs: number;
  readonly livenessIntervalMs: number;
  /** Not healthy by then: killed, counted as a failed start. */
  readonly startupDeadlineMs: number;
  readonly failureThreshold: number;
}

export interface InstanceSpec {
  /** e.g. `releaseregistry/dev#1` */
  readonly id: string;
  /** e.g. `releaseregistry/dev`; logs go to `<logDir>/<deployment>/` */
  readonly deployment: string;
  readonly release?: string;
  readonly command: readonly string[];
  readonly cwd: string;
  /**
   * Handed to the child as its whole environment, plus `PORT`, `HOST` (the loopback address it must bind:
   * only the proxy reaches it) and `PATH` when absent.
   */
  readonly env: Readonly<Record<string, string>>;
  readonly port: number;
  /** The operating-system user the process runs as (uid and gid); absent: the supervisor's own. */
  readonly user?: { readonly uid: number; readonly gid: number };
  readonly probe: ProbeSpec;
}

/** Probe settings from a spec's `healthProbes` (REFERENCE §1): the startup deadline is 3 × startupInterval, at least 10 s. */
export function probeSpecFor(options: {
  secret: string;
  timeoutMs: number;
  startupIntervalMs?: number;
  livenessIntervalMs?: number;
  failureThreshold?: number;
}): ProbeSpec {
  const startupIntervalMs = options.startupIntervalMs ?? options.timeoutMs;
  return {
    path: '/-/healthz',
    secret: options.secret,
    timeoutMs: options.timeoutMs,
    startupIntervalMs,
    livenessIntervalMs: options.livenessIntervalMs ?? Math.min(10 * options.timeoutMs, 3_600_000),
    startupDeadlineMs: Math.max(3 * startupIntervalMs, 10_000),
    failureThreshold: options.failureThreshold ?? 3,
  };
}

export interface InstanceStatus {
  readonly id: string;
  readonly deployment: string;
  readonly release: string | undefined;
  readonly state: InstanceState;
  readonly pid: number | undefined;
  readonly port: number;
  readonly restarts: number;
  readonly startedAt: Date | undefined;
  readonly healthySince: Date | undefined;
  readonly lastError: string | undefined;
  readonly startupLatencyMs: number | undefined;
  /** The last lines the process wrote to stderr (for precondition failures). */
  readonly stderrTail: readonly string[];
}

export interface SupervisorEvents {
  /** Every state change, e.g. starting → healthy, healthy → unhealthy, starting → precondition_failed. */
  state: [{ id: string; previous: InstanceState; status: InstanceStatus }];
  exit: [{ id: string; pid: number; code: number | null; signal: string | null }];
}

export interface SupervisorOptions {
  readonly logDir: string;
  readonly now?: () => number;
  readonly restartPolicy?: Partial<Omit<RestartPolicy, 'failureThreshold'>>;
  /** Grace between SIGTERM and SIGKILL when the supervisor kills a failing process (default 2 s). */
  readonly killGraceMs?: number;
  readonly log?: { readonly maxBytes?: number; readonly maxFiles?: number };
}

export interface StopOptions {
  /** Time the process gets after SIGTERM to finish in-flight work before SIGKILL (default 10 s). */
  readonly drainMs?: number;
}

export interface Supervisor {
  start(spec: InstanceSpec): InstanceStatus;
  stop(id: string, options?: StopOptions): Promise<void>;
  stopAll(options?: StopOptions): Promise<void>;
  status(): InstanceStatus[];
  get(id: string): InstanceStatus | undefined;
  on<K extends keyof SupervisorEvents>(event: K, listener: (...args: SupervisorEvents[K]) => void): this;
  once<K extends keyof SupervisorEvents>(event: K, listener: (...args: SupervisorEvents[K]) => void): this;
  off<K extends keyof SupervisorEvents>(event: K, listener: (...args: SupervisorEvents[K]) => void): this;
}
