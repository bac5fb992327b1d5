/**
 * The operation engine: operations are rows in the state store, executed by workers fed from a pg-boss
 * queue. A worker holds a lease on the operation while it runs and renews it (lease.ts); a control plane
 * that dies or is paused leaves an expired lease, and another one (each sweeps for expired leases) or the
 * next to start resumes the operation at its first unfinished step (steps are idempotent). One that lost its
 * lease stops at once: the step's signal aborts, and its checkpoint writes are refused. Several control
 * planes over one database share the queue.
 */
import { randomUUID } from 'node:crypto';
import type PgBoss from 'pg-boss';
import {
  InputError,
  beginStep,
  classifyError,
  completeStep,
  failStep,
  finish,
  isFinished,
  newSteps,
  nextStep,
  type Operation,
  type OperationKind,
} from '@msp/core';
import type { StateStore } from '../state/store.js';
import { LeaseLostError, holdLease, untilAborted } from './lease.js';

export const OPERATIONS_QUEUE = 'msp-operations';

export interface StepContext {
  readonly operation: Operation;
  /**
   * Aborts when this control plane loses the operation's lease (the reason is a LeaseLostError): a step
   * that waits or polls passes it on or checks it, and stops. The engine stops waiting for the step then.
   */
  readonly signal: AbortSignal;
  /** Appends to the operation's log; throws the lease's LeaseLostError once the lease is lost. */
  log(message: string, level?: 'info' | 'warn' | 'error'): Promise<void>;
  /** Merges into the operation's result (e.g. the id of the backup it took); saved with the step. */
  setResult(values: Record<string, unknown>): void;
}

/**
 * Executes operations of some kinds: says which steps an operation runs (from its kind and input) and runs
 * one named step at a time, returning a short detail recorded with the step. Steps must be idempotent: a
 * resumed operation runs the step it died in again.
 */
export interface OperationHandler {
  readonly kinds: readonly OperationKind[];
  /** May depend on the deployment: the runtime's own kinds run the steps its target declares. */
  steps(
    kind: OperationKind,
    input: Record<string, unknown>,
    deploymentKey: string,
  ): readonly string[] | Promise<readonly string[]>;
  runStep(step: string, ctx: StepContext): Promise<string | void>;
  /** Called once when an operation ends, whatever the outcome. */
  onFinished?(op: Operation): Promise<void>;
  /**
   * Runs the steps after a failed one too (rollback steps that look at what failed, e.g. an instance
   * upgrade); the operation stays unfinished until its last step and then fails with the last error.
   */
  readonly continueAfterFailure?: boolean;
}

export interface OperationEngine {
  start(): Promise<void>;
  stop(): Promise<void>;
  enqueue(request: {
    kind: OperationKind;
    deploymentKey: string;
    reason: string;
    createdBy: string;
    input?: Record<string, unknown>;
  }): Promise<Operation>;
  /** Adds the handler of more kinds of operation (backups, rollouts); before start(). */
  register(handler: OperationHandler): void;
  /** Resolves when the operation has finished (or the deadline passes: then it resolves with its current state). */
  waitFor(id: string, timeoutMs: number): Promise<Operation | undefined>;
  /** Operations currently executing in this process. */
  running(): string[];
  /** Adds hooks: access checks before an operation is queued, audit records of step outcomes. */
  addHooks(hooks: EngineHooks): void;
}

/** Seen by every operation, whichever module queues it (access policy, audit trail). */
export interface EngineHooks {
  /** Throws to refuse the operation (nothing is queued). */
  beforeEnqueue?(request: Parameters<OperationEngine['enqueue']>[0]): Promise<void>;
  /** After a step succeeded or failed (its checkpoint saved); a hook that throws is logged, not fatal. */
  afterStep?(op: Operation, step: string): Promise<void>;
}

export interface EngineOptions {
  store: StateStore;
  boss: PgBoss;
  handlers: OperationHandler[];
  owner?: string;
  concurrency?: number;
  leaseSeconds?: number;
  /** How often a running operation's lease is renewed: a third of the lease unless said otherwise. */
  renewEveryMs?: number;
  /** How long stop() lets running steps finish before it returns anyway (15 s unless said otherwise). */
  stopWaitMs?: number;
  now?: () => Date;
  /** The process log (a lost lease is reported there); console.log unless given. */
  log?: (line: string) => void;
}

/**
 * Creates a pg-boss queue unless it exists. Replicas starting together race to create it, and pg-boss's
 * insert can then deadlock or hit the unique name: the loser looks again and finds the winner's queue.
 */
export async function ensureQueue(
  boss: PgBoss,
  name: string,
  options: Omit<PgBoss.Queue, 'name'> = {},
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    if (await boss.getQueue(name)) return;
    try {
      await boss.createQueue(name, { name, ...options });
      return;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= 5 || (code !== '40P01' && code !== '23505')) throw error;
      await new Promise((r) => setTimeout(r, 50 * attempt + Math.random() * 100));
    }
  }
}

export function createOperationEngine(options: EngineOptions): OperationEngine {
  const { store, boss } = options;
  const handlers = new Map<string, OperationHandler>();
  const register = (h: OperationHandler) => {
    for (const kind of h.kinds) {
      if (handlers.has(kind)) throw new Error(`two handlers for operations of kind ${kind}`);
      handlers.set(kind, h);
    }
  };
  options.handlers.forEach(register);
  const handlerOf = (kind: string): OperationHandler => {
    const h = handlers.get(kind);
    if (!h) throw new InputError(`Unknown kind of operation '${kind}'.`);
    return h;
  };
  const owner = options.owner ?? `cp-${process.pid}-${randomUUID().slice(0, 8)}`;
  const leaseSeconds = options.leaseSeconds ?? 10;
  const now = options.now ?? (() => new Date());
  const log = options.log ?? ((line: string) => console.log(line));
  const active = new Set<string>();
  const inflight = new Set<Promise<void>>();
  const workerIds: string[] = [];
  let sweeper: NodeJS.Timeout | undefined;
  let stopping = false;
  const hooks: EngineHooks[] = [];
  const stepDone = async (o: Operation, step: string) => {
    for (const h of hooks) {
      await h.afterStep?.(o, step).catch((e: unknown) => log(`operations: step hook: ${String(e)}`));
    }
  };

  async function run(id: string): Promise<void> {
    if (active.has(id) || stopping) return;
    // Taken before the lease is asked for: the lease is this owner's whichever of several jobs for one
    // operation (a resume, the sweeper, a look-again) asks, so two workers here would both run it.
    active.add(id);
    let op: Operation | undefined;
    try {
      op = await store.acquireLease(id, owner, leaseSeconds);
      if (!op) {
        const current = await store.getOperation(id);
        // Someone else holds a live lease (or it finished): if it is unfinished, look again after the lease.
        if (current && !isFinished(current)) {
          await boss.sendAfter(OPERATIONS_QUEUE, { id }, {}, leaseSeconds);
        }
      }
    } finally {
      if (!op) active.delete(id);
    }
    if (!op) return;
    const lease = holdLease({
      operationId: id,
      owner,
      leaseSeconds,
      ...(options.renewEveryMs === undefined ? {} : { renewEveryMs: options.renewEveryMs }),
      renew: () => store.renewLease(id, owner, leaseSeconds),
    });
    const { signal } = lease;
    let result: Record<string, unknown> | undefined = op.result ? { ...op.result } : undefined;
    const ctx = (o: Operation): StepContext => ({
      operation: o,
      signal,
      log: async (message, level = 'info') => {
        signal.throwIfAborted();
        await store.appendLog(id, level, message);
      },
      setResult: (values) => {
        result = { ...(result ?? {}), ...values };
      },
    });
    const withResult = (o: Operation): Operation => (result ? { ...o, result } : o);
    // A checkpoint: refused by the store (LeaseLostError) when another control plane holds the lease now.
    const save = async (o: Operation): Promise<void> => {
      signal.throwIfAborted();
      await store.saveOperation(o, owner);
    };
    try {
      const handler = handlerOf(op.kind);
      if (op.attempt > 1) await store.appendLog(id, 'warn', `resumed (attempt ${op.attempt}) by ${owner}`);
      for (let step = nextStep(op); step && !stopping; step = nextStep(op)) {
        op = beginStep(op, step.name, now());
        await save(op);
        let detail: string | void;
        try {
          detail = await untilAborted(handler.runStep(step.name, ctx(op)), signal);
        } catch (error) {
          if (signal.aborted) throw signal.reason; // the lease is lost: not a failure of the step
          const facts = classifyError(error);
          await store.appendLog(id, 'error', `${step.name}: ${facts.message}`);
          op = withResult(failStep(op, step.name, now(), facts.message, facts));
          if (handler.continueAfterFailure) {
            op = { ...op, status: 'running', finishedAt: undefined }; // unfinished: resumed after a crash
            await save(op);
            continue;
          }
          await save(op);
          await stepDone(op, step.name);
          break;
        }
        op = withResult(completeStep(op, step.name, now(), detail ?? undefined));
        await save(op);
        await stepDone(op, step.name);
      }
      if (!stopping || op.status === 'failed') {
        op = finish(op, now());
        await save(op);
        await store.appendLog(id, op.status === 'failed' ? 'error' : 'info', `operation ${op.status}`);
        await handler.onFinished?.(op);
      }
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      // Fenced off: nothing more is written but this line; whoever holds the lease carries on. Should
      // nobody hold it (the renewal failed), look again once it has run out.
      log(`operations: ${error.message}`);
      await store.appendLog(id, 'warn', error.message).catch(() => undefined);
      await boss.sendAfter(OPERATIONS_QUEUE, { id }, {}, leaseSeconds).catch(() => undefined);
    } finally {
      lease.stop();
      await store.releaseLease(id, owner).catch(() => undefined);
      active.delete(id);
    }
  }

  // Another control plane died or is paused holding a lease: take its operations over once the lease ran out.
  // An operation queued but never leased for a while lost its job (sent while the state database was down):
  // queue it again. Running one twice is harmless: only the holder of its lease runs it.
  async function sweep(): Promise<void> {
    for (const id of await store.listStranded(2 * leaseSeconds)) {
      if (!active.has(id)) await boss.send(OPERATIONS_QUEUE, { id });
    }
  }

  return {
    async start() {
      await ensureQueue(boss, OPERATIONS_QUEUE, { retryLimit: 0, expireInSeconds: 6 * 3600 });
      for (let i = 0; i < (options.concurrency ?? 4); i++) {
        workerIds.push(
          await boss.work<{ id: string }>(OPERATIONS_QUEUE, { pollingIntervalSeconds: 0.5 }, async (jobs) => {
            for (const job of jobs) {
              const running = run(job.data.id);
              inflight.add(running);
              try {
                await running;
              } finally {
                inflight.delete(running);
              }
            }
          }),
        );
      }
      // Resume what a previous control plane left unfinished.
      for (const op of await store.listOperations({ unfinished: true, limit: 1000 })) {
        await boss.send(OPERATIONS_QUEUE, { id: op.id });
      }
      sweeper = setInterval(() => {
        sweep().catch((e: unknown) => log(`operations: looking for stranded operations: ${String(e)}`));
      }, leaseSeconds * 1000);
    },
    async stop() {
      stopping = true;
      clearInterval(sweeper);
      await boss.offWork(OPERATIONS_QUEUE).catch(() => undefined);
      // A running step is let finish (its operation then stops at that checkpoint, to be resumed by the
      // next control plane), so nothing it started (initdb, a restore) still writes once the runtime stops.
      if (inflight.size === 0) return;
      const waitMs = options.stopWaitMs ?? 15_000;
      log(`operations: waiting up to ${waitMs / 1000} s for ${active.size} running step(s) to finish`);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), waitMs)));
      const outcome = await Promise.race([Promise.allSettled([...inflight]), late]);
      clearTimeout(timer);
      if (outcome === 'late') {
        log(
          `operations: left running at shutdown, resumed by the next control plane: ${[...active].join(', ')}`,
        );
      }
    },
    async enqueue(request) {
      const handler = handlerOf(request.kind);
      for (const h of hooks) await h.beforeEnqueue?.(request);
      const steps = await handler.steps(request.kind, request.input ?? {}, request.deploymentKey);
      const op = await store.createOperation({
        id: randomUUID(),
        kind: request.kind,
        deploymentKey: request.deploymentKey,
        status: 'queued',
        steps: newSteps(steps),
        input: request.input ?? {},
        reason: request.reason,
        createdBy: request.createdBy,
        createdAt: now().toISOString(),
        attempt: 0,
      });
      await store.appendLog(
        op.id,
        'info',
        `queued: ${request.kind} ${request.deploymentKey} (${request.reason})`,
      );
      await boss.send(OPERATIONS_QUEUE, { id: op.id });
      for (const w of workerIds) boss.notifyWorker(w);
      return op;
    },
    async waitFor(id, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const op = await store.getOperation(id);
        if (!op || isFinished(op) || Date.now() > deadline) return op;
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    running: () => [...active],
    register,
    addHooks: (h) => void hooks.push(h),
  };
}
