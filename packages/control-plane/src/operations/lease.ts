/**
 * Leases that fence. A control plane runs an operation only while it holds the operation's lease: it renews
 * the lease in a heartbeat, and the moment a renewal fails or finds the lease taken, the lease's signal
 * aborts the running step. Every checkpoint write is conditional on the lease (owner and attempt), so a
 * control plane that was paused past its lease cannot overwrite the new owner's checkpoints: its write is
 * refused with a LeaseLostError.
 */
import { ConflictError } from '@msp/core';

/** This control plane no longer holds the lease on an operation: it must stop and write nothing more. */
export class LeaseLostError extends ConflictError {
  readonly operationId: string;
  readonly owner: string;
  constructor(
    operationId: string,
    owner: string,
    why: string,
    options: { cause?: unknown; heldBy?: string | null } = {},
  ) {
    super(
      `Control plane ${owner} lost its lease on operation ${operationId}: ${why}. It stopped running the ` +
        'operation; the control plane that holds the lease now continues it (`msp operations show`).',
      {
        ...(options.cause === undefined ? {} : { cause: options.cause }),
        details: { reason: 'lease_lost', operationId, owner, heldBy: options.heldBy ?? null },
      },
    );
    this.operationId = operationId;
    this.owner = owner;
  }
}

export interface Lease {
  /** Aborts, with a LeaseLostError as its reason, when the lease is lost. */
  readonly signal: AbortSignal;
  /** Stops renewing (the operation ended or was given up). */
  stop(): void;
}

export interface LeaseOptions {
  operationId: string;
  owner: string;
  leaseSeconds: number;
  /** How often to renew; a third of the lease unless said otherwise. */
  renewEveryMs?: number;
  renew(): Promise<boolean>;
}

/**
 * Keeps a just-acquired lease alive. The signal aborts when a renewal finds the lease taken, when a renewal
 * fails, or when no renewal got through before the lease ran out (a renewal that hangs).
 */
export function holdLease(options: LeaseOptions): Lease {
  const { operationId, owner, leaseSeconds } = options;
  const controller = new AbortController();
  const lose = (why: string, cause?: unknown): void => {
    if (!controller.signal.aborted) {
      controller.abort(new LeaseLostError(operationId, owner, why, cause === undefined ? {} : { cause }));
    }
  };
  let heldUntil = Date.now() + leaseSeconds * 1000;
  let renewing = false;
  const tick = async (): Promise<void> => {
    if (controller.signal.aborted) return;
    if (Date.now() >= heldUntil) {
      lose(`no renewal got through in the ${leaseSeconds} s the lease lasts`);
      return;
    }
    if (renewing) return;
    renewing = true;
    const askedAt = Date.now();
    try {
      if (await options.renew()) heldUntil = askedAt + leaseSeconds * 1000;
      else lose('another control plane took the lease over');
    } catch (error) {
      lose(`renewing the lease failed (${error instanceof Error ? error.message : String(error)})`, error);
    } finally {
      renewing = false;
    }
  };
  const timer = setInterval(() => void tick(), options.renewEveryMs ?? (leaseSeconds * 1000) / 3);
  return { signal: controller.signal, stop: () => clearInterval(timer) };
}

/**
 * Settles like `work`, or rejects with the signal's reason as soon as it aborts: the caller stops waiting
 * for a step that does not observe the signal (what the step still does is fenced off from the state).
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
