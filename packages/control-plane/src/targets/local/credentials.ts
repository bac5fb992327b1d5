/**
 * Temporary database credentials end when their time is up: every tick drops the expired roles (and their
 * sessions) of each cluster. A cluster whose revocation fails is reported once per failure streak as an
 * event and tried again on the next tick; the event says when it recovered.
 */
import type { StateStore } from '../../state/store.js';

export interface Revocable {
  revokeExpiredCredentials(): Promise<unknown>;
}

/** One pass over the clusters; `failing` (keys whose last attempt failed) carries over between passes. */
export async function revokeExpired(
  clusters: Iterable<[string, Revocable]>,
  failing: Set<string>,
  store: Pick<StateStore, 'addEvent'>,
): Promise<void> {
  for (const [key, cluster] of clusters) {
    try {
      await cluster.revokeExpiredCredentials();
      if (failing.delete(key)) {
        await store.addEvent({
          deploymentKey: key,
          kind: 'credential-revoke-recovered',
          message: 'expired temporary database credentials were revoked after earlier failures',
        });
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (failing.has(key)) continue;
      failing.add(key);
      await store.addEvent({
        deploymentKey: key,
        kind: 'credential-revoke-failed',
        message: `expired temporary database credentials could not be revoked: ${message}; retrying every 5 s`,
        data: { error: message },
      });
    }
  }
}

/** Runs `revokeExpired` every `intervalMs` (one pass at a time); returns the stop function. */
export function startCredentialRevoker(options: {
  clusters: () => Iterable<[string, Revocable]>;
  store: Pick<StateStore, 'addEvent'>;
  log: (line: string) => void;
  intervalMs?: number;
}): () => void {
  const failing = new Set<string>();
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    revokeExpired(options.clusters(), failing, options.store)
      .catch((e: unknown) => options.log(`local runtime: credential revoker: ${String(e)}`))
      .finally(() => {
        running = false;
      });
  }, options.intervalMs ?? 5000);
  return () => clearInterval(timer);
}
