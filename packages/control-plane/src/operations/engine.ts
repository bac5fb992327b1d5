/**
 * The operation engine: operations are rows in the state store, executed by workers fed from a pg-boss
 * queue. A worker holds a lease on the operation while it runs and renews it; a control plane that dies
 * leaves an expired lease, and whoever starts next resumes the operation at its first unfinished step
 * (steps are idempotent). Several control planes over one database share the queue.
 */
import { randomUUID } from 'node:crypto';
import type PgBoss from 'pg-boss';
import {
  beginStep,
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

export const OPERATIONS_QUEUE = 'msp-operations';

export interface StepContext {
  readonly operation: Operation;
  log(message: string, level?: 'info' | 'warn' | 'error'): Promise<void>;
}

/** Runs one named step of an operation; returns a short detail recorded with the step. */
export interface OperationExecutor {
  runStep(step: string, ctx: StepContext): Promise<string | void>;
  /** Called once when an operation ends, whatever the outcome. */
  onFinished?(op: Operation): Promise<void>;
}

export interface OperationEngine {
  start(): Promise<void>;
  stop(): Promise<void>;
  enqueue(request: {
    kind: OperationKind;
    deploymentKey: string;
    reason: string;
    createdBy: string;
  }): Promise<Operation>;
  /** Resolves when the operation has finished (or the deadline passes: then it resolves with its current state). */
  waitFor(id: string, timeoutMs: number): Promise<Operation | undefined>;
  /** Operations currently executing in this process. */
  running(): string[];
}

export interface EngineOptions {
  store: StateStore;
  boss: PgBoss;
  executor: OperationExecutor;
  owner?: string;
  concurrency?: number;
  leaseSeconds?: number;
  now?: () => Date;
}

export function createOperationEngine(options: EngineOptions): OperationEngine {
  const { store, boss, executor } = options;
  const owner = options.owner ?? `cp-${process.pid}-${randomUUID().slice(0, 8)}`;
  const leaseSeconds = options.leaseSeconds ?? 10;
  const now = options.now ?? (() => new Date());
  const active = new Set<string>();
  const workerIds: string[] = [];
  let stopping = false;

  async function run(id: string): Promise<void> {
    if (active.has(id) || stopping) return;
    let op = await store.acquireLease(id, owner, leaseSeconds);
    if (!op) {
      const current = await store.getOperation(id);
      // Someone else holds a live lease (or it finished): if it is unfinished, look again after the lease.
      if (current && !isFinished(current)) {
        await boss.sendAfter(OPERATIONS_QUEUE, { id }, {}, leaseSeconds);
      }
      return;
    }
    active.add(id);
    const heartbeat = setInterval(
      () => {
        store.renewLease(id, owner, leaseSeconds).catch(() => undefined);
      },
      (leaseSeconds * 1000) / 3,
    );
    const ctx = (o: Operation): StepContext => ({
      operation: o,
      log: (message, level = 'info') => store.appendLog(id, level, message),
    });
    try {
      if (op.attempt > 1) await store.appendLog(id, 'warn', `resumed (attempt ${op.attempt}) by ${owner}`);
      for (let step = nextStep(op); step && !stopping; step = nextStep(op)) {
        op = beginStep(op, step.name, now());
        await store.saveOperation(op);
        try {
          const detail = await executor.runStep(step.name, ctx(op));
          op = completeStep(op, step.name, now(), detail ?? undefined);
          await store.saveOperation(op);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          await store.appendLog(id, 'error', `${step.name}: ${message}`);
          op = failStep(op, step.name, now(), message);
          await store.saveOperation(op);
          break;
        }
      }
      if (!stopping || op.status === 'failed') {
        op = finish(op, now());
        await store.saveOperation(op);
        await store.appendLog(id, op.status === 'failed' ? 'error' : 'info', `operation ${op.status}`);
        await executor.onFinished?.(op);
      }
    } finally {
      clearInterval(heartbeat);
      active.delete(id);
      await store.releaseLease(id, owner).catch(() => undefined);
    }
  }

  return {
    async start() {
      await boss.createQueue(OPERATIONS_QUEUE, {
        name: OPERATIONS_QUEUE,
        retryLimit: 0,
        expireInSeconds: 6 * 3600,
      });
      for (let i = 0; i < (options.concurrency ?? 4); i++) {
        workerIds.push(
          await boss.work<{ id: string }>(OPERATIONS_QUEUE, { pollingIntervalSeconds: 0.5 }, async (jobs) => {
            for (const job of jobs) await run(job.data.id);
          }),
        );
      }
      // Resume what a previous control plane left unfinished.
      for (const op of await store.listOperations({ unfinished: true, limit: 1000 })) {
        await boss.send(OPERATIONS_QUEUE, { id: op.id });
      }
    },
    async stop() {
      stopping = true;
      await boss.offWork(OPERATIONS_QUEUE).catch(() => undefined);
    },
    async enqueue(request) {
      const op = await store.createOperation({
        id: randomUUID(),
        kind: request.kind,
        deploymentKey: request.deploymentKey,
        status: 'queued',
        steps: newSteps(request.kind),
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
  };
}
