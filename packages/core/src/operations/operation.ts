/**
 * Operations: durable, audited workflows on deployments. An operation is a list of named steps run in
 * order; each step is idempotent and its completion is checkpointed, so a control plane that dies
 * mid-operation resumes at the first step that did not succeed. This module is pure: data and transitions.
 */
import type { ErrorCode } from '../errors.js';

export const OperationKind = {
  Deploy: 'deploy',
  Stop: 'stop',
  Delete: 'delete',
} as const;
/**
 * The kind of an operation. The runtime's own kinds are above; feature modules (backups, rollouts) add
 * theirs by registering an operation handler for them, with the steps each runs.
 */
export type OperationKind = (typeof OperationKind)[keyof typeof OperationKind] | (string & {});

export type OperationStatus = 'queued' | 'running' | 'succeeded' | 'failed';
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

export interface OperationStep {
  readonly name: string;
  readonly status: StepStatus;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly detail?: string;
}

export interface Operation {
  readonly id: string;
  readonly kind: OperationKind;
  readonly deploymentKey: string;
  readonly status: OperationStatus;
  readonly steps: readonly OperationStep[];
  readonly reason: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly error?: string;
  /** The code of the error that failed it (errors.ts), when it failed. */
  readonly errorCode?: ErrorCode;
  /** Whether running it again can help (the error was transient), when it failed. */
  readonly retryable?: boolean;
  readonly attempt: number;
  /** What the operation was asked to do (a backup's reason, a restore's target, a release version). */
  readonly input: Readonly<Record<string, unknown>>;
  /** What it produced (a backup id, a clone's key), set by its steps. */
  readonly result?: Readonly<Record<string, unknown>>;
}

export function newSteps(steps: readonly string[]): OperationStep[] {
  return steps.map((name) => ({ name, status: 'pending' }));
}

export function isFinished(op: Pick<Operation, 'status'>): boolean {
  return op.status === 'succeeded' || op.status === 'failed';
}

/** The first step still to run: pending, or running when the previous attempt died inside it. */
export function nextStep(op: Pick<Operation, 'steps'>): OperationStep | undefined {
  return op.steps.find((s) => s.status === 'pending' || s.status === 'running');
}

function replaceStep(
  steps: readonly OperationStep[],
  name: string,
  update: (s: OperationStep) => OperationStep,
): OperationStep[] {
  if (!steps.some((s) => s.name === name)) throw new Error(`operation has no step named ${name}`);
  return steps.map((s) => (s.name === name ? update(s) : s));
}

export function beginStep<T extends Operation>(op: T, name: string, now: Date): T {
  return {
    ...op,
    status: 'running',
    startedAt: op.startedAt ?? now.toISOString(),
    steps: replaceStep(op.steps, name, (s) => ({ ...s, status: 'running', startedAt: now.toISOString() })),
  };
}

export function completeStep<T extends Operation>(op: T, name: string, now: Date, detail?: string): T {
  return {
    ...op,
    steps: replaceStep(op.steps, name, (s) => ({
      ...s,
      status: 'succeeded',
      finishedAt: now.toISOString(),
      ...(detail === undefined ? {} : { detail }),
    })),
  };
}

/** Fails the step and the operation; `facts` (from `classifyError`) say what kind of error it was. */
export function failStep<T extends Operation>(
  op: T,
  name: string,
  now: Date,
  error: string,
  facts?: { readonly code: ErrorCode; readonly retryable: boolean },
): T {
  return {
    ...op,
    status: 'failed',
    error,
    ...(facts ? { errorCode: facts.code, retryable: facts.retryable } : {}),
    finishedAt: now.toISOString(),
    steps: replaceStep(op.steps, name, (s) => ({
      ...s,
      status: 'failed',
      finishedAt: now.toISOString(),
      detail: error,
    })),
  };
}

export function finish<T extends Operation>(op: T, now: Date): T {
  const failed = op.steps.find((s) => s.status === 'failed');
  return failed
    ? {
        ...op,
        status: 'failed',
        finishedAt: op.finishedAt ?? now.toISOString(),
        error: op.error ?? failed.detail,
      }
    : { ...op, status: 'succeeded', finishedAt: now.toISOString() };
}
