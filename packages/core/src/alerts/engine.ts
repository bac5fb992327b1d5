/**
 * The rule engine's pure part, the way Prometheus and Grafana model an alert rule: per series, inactive →
 * pending (for the policy's duration) → firing → resolved, with `keepFiringFor` against flapping, and
 * distinct NoData and Error states. The caller aggregates the window's samples (`aggregate`) and passes the
 * value, or null when the window holds none, or an error; the clock is injected (`now`, in ms).
 */
import type { AlertAggregation, AlertComparison } from './catalog.js';

export type RuleState = 'inactive' | 'pending' | 'firing' | 'nodata' | 'error';

/** How long a firing rule stays firing after its condition stopped holding (seconds, before scaling). */
export const DEFAULT_KEEP_FIRING_FOR_SECONDS = 120;

export interface RuleSpec {
  readonly comparison: AlertComparison;
  readonly threshold: number;
  /** The condition must hold this long before firing (ms, already scaled). */
  readonly durationMs: number;
  /** A firing rule resolves only after its condition has not held for this long (ms, already scaled). */
  readonly keepFiringForMs: number;
}

/** What the engine remembers of one series between evaluations. */
export interface RuleMemory {
  readonly state: RuleState;
  /** When the current state began (ms). */
  readonly since: number;
  /** When the condition started holding without interruption (pending and firing). */
  readonly activeSince?: number;
  /** The last evaluation where the condition held. */
  readonly lastActiveAt?: number;
  /**
   * Firing only: the first evaluation since the condition last held where it did not hold. keepFiringFor
   * counts from here (as Prometheus's keep_firing_for does), not from `lastActiveAt`: one evaluation late
   * after a gap (a loaded machine, a slow round) is one look at the condition, not proof that it stayed
   * clear for the whole gap, so it never resolves on its own. Not stored: after a restart it starts again.
   */
  readonly clearedSince?: number;
  /** The last value, or null (NoData, Error). */
  readonly value: number | null;
  readonly error?: string;
}

/** A change worth telling someone about. */
export type RuleTransition = 'pending' | 'fired' | 'resolved' | 'nodata' | 'error' | 'recovered';

export interface RuleEvaluation {
  readonly memory: RuleMemory;
  readonly transition?: RuleTransition;
}

export type RuleInput = { readonly value: number | null } | { readonly error: string };

export const INITIAL_MEMORY: RuleMemory = { state: 'inactive', since: 0, value: null };

/** Whether `value` breaches `threshold`. */
export function breaches(comparison: AlertComparison, value: number, threshold: number): boolean {
  return comparison === 'above' ? value > threshold : value < threshold;
}

/** Reduces a window's values as the policy says; null for an empty window. */
export function aggregate(aggregation: AlertAggregation, values: readonly number[]): number | null {
  if (values.length === 0) return null;
  switch (aggregation) {
    case 'max':
      return Math.max(...values);
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'mean':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'count':
      return values.filter((v) => v !== 0).length;
    case 'fraction':
      // The share of samples that are 1 (passing checks); ratios already computed are averaged.
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'p99': {
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!;
    }
  }
}

/** `seconds` shrunk by the time scale (msp.yaml `alerting.timeScale`), in ms. */
export function scaledMs(seconds: number, timeScale: number): number {
  return Math.round(seconds * 1000 * timeScale);
}

/** One evaluation of one series: the next memory, and the transition if the state changed in a way that matters. */
export function evaluateRule(
  rule: RuleSpec,
  input: RuleInput,
  previous: RuleMemory,
  now: number,
): RuleEvaluation {
  const was = previous.state;
  if ('error' in input) {
    // A firing rule keeps firing through errors: an unanswered query is not a recovery.
    if (was === 'firing') return { memory: { ...previous, error: input.error } };
    const memory: RuleMemory = {
      state: 'error',
      since: was === 'error' ? previous.since : now,
      value: null,
      error: input.error,
    };
    return was === 'error' ? { memory } : { memory, transition: 'error' };
  }
  const { value } = input;
  if (value === null) {
    // No data never resolves what fires (the incident closes itself after 24 h without data).
    if (was === 'firing') return { memory: { ...previous, value: null } };
    const memory: RuleMemory = {
      state: 'nodata',
      since: was === 'nodata' ? previous.since : now,
      value: null,
    };
    return was === 'nodata' ? { memory } : { memory, transition: 'nodata' };
  }
  const recovered = was === 'error' || was === 'nodata';
  if (breaches(rule.comparison, value, rule.threshold)) {
    if (was === 'firing') {
      const { clearedSince: _cleared, ...held } = previous;
      return { memory: { ...held, value, lastActiveAt: now } };
    }
    const activeSince = was === 'pending' ? (previous.activeSince ?? now) : now;
    if (now - activeSince >= rule.durationMs) {
      return {
        memory: { state: 'firing', since: now, activeSince, lastActiveAt: now, value },
        transition: 'fired',
      };
    }
    if (was === 'pending') return { memory: { ...previous, value, lastActiveAt: now } };
    return {
      memory: { state: 'pending', since: now, activeSince, lastActiveAt: now, value },
      transition: 'pending',
    };
  }
  if (was === 'firing') {
    const clearedSince = previous.clearedSince ?? now;
    if (now - clearedSince < rule.keepFiringForMs) return { memory: { ...previous, value, clearedSince } };
    return { memory: { state: 'inactive', since: now, value }, transition: 'resolved' };
  }
  const memory: RuleMemory = { state: 'inactive', since: was === 'inactive' ? previous.since : now, value };
  return recovered ? { memory, transition: 'recovered' } : { memory };
}
