/**
 * Queuing an operation on a deployment that already runs one: the 409 says which operation runs and for
 * how long, and carries it in `details.operation` so a client can wait for it (`msp backup create --wait`).
 */
import { ConflictError, type Operation } from '@msp/core';
import type { OperationEngine } from '../operations/engine.js';
import type { StateStore } from '../state/store.js';

type EnqueueRequest = Parameters<OperationEngine['enqueue']>[0];

export function formatSeconds(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/**
 * The ConflictError for a deployment busy with `running`, naming it and its age; `advice` follows
 * "Wait for it (…)" (commands without --wait say what to do instead).
 */
export function busyError(
  key: string,
  running: Operation,
  now = Date.now(),
  advice = 'or pass --wait to queue behind it',
): ConflictError {
  const since = running.startedAt ?? running.createdAt;
  const seconds = Math.max(0, Math.round((now - Date.parse(since)) / 1000));
  return new ConflictError(
    `Deployment '${key}' is busy: ${running.kind} operation ${running.id} (${running.status}) has run for ${formatSeconds(seconds)}. Wait for it (\`msp operations show ${running.id}\`) ${advice}.`,
    {
      details: {
        operation: {
          id: running.id,
          kind: running.kind,
          status: running.status,
          since,
          runningForSeconds: seconds,
        },
      },
    },
  );
}

/** Enqueues; when the deployment is busy, the 409 names the operation in the way. */
export async function enqueueExplained(
  store: StateStore,
  engine: OperationEngine,
  request: EnqueueRequest,
  advice?: string,
): Promise<Operation> {
  try {
    return await engine.enqueue(request);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const [running] = await store
      .listOperations({ deploymentKey: request.deploymentKey, unfinished: true, limit: 1 })
      .catch(() => []);
    throw running ? busyError(request.deploymentKey, running, Date.now(), advice) : error;
  }
}
