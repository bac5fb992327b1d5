/**
 * The database watchdog of the local target: a deployment's PostgreSQL that died (kill -9, OOM) is started
 * again, which runs crash recovery (the mechanism is ../../watchdog.ts). Only databases a deploy started and
 * whose workload runs are watched; deployments with an operation in progress (a restore stops its database on
 * purpose) are left alone.
 */
import { startWatchdog } from '../../watchdog.js';
import type { LocalContext } from './context.js';

export function startDatabaseWatchdog(c: LocalContext, intervalMs = 2000): { stop(): void } {
  const watchdog = startWatchdog({
    intervalMs,
    async watched() {
      const busy = new Set(
        (await c.store.listOperations({ unfinished: true, limit: 1000 })).map((o) => o.deploymentKey),
      );
      return [...c.clusters].filter(([key]) => !busy.has(key) && c.supervisedDatabases.has(key));
    },
    async restarting(key) {
      c.log(`local runtime: PostgreSQL of ${key} is not running; starting it (crash recovery)`);
      await c.store.addEvent({
        deploymentKey: key,
        kind: 'database-restarted',
        message: 'PostgreSQL was not running and was started again (crash recovery)',
      });
    },
    failed: (error) => c.log(`local runtime: database watchdog: ${String(error)}`),
  });
  // Its clusters are stopped after this, one operation at a time each, so a pass in flight needs no wait.
  return { stop: () => void watchdog.stop() };
}
