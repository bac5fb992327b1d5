/**
 * The database watchdog: a PostgreSQL that died (kill -9, OOM) is started again, which runs crash recovery.
 * Only databases a deploy started and whose workload runs are watched; deployments with an operation in
 * progress (a restore stops its database on purpose) are left alone.
 */
import type { LocalContext } from './context.js';

export function startDatabaseWatchdog(c: LocalContext, intervalMs = 2000): { stop(): void } {
  let watching = false;
  let shuttingDown = false;
  const timer = setInterval(() => {
    if (watching) return;
    watching = true;
    void (async () => {
      const busy = new Set(
        (await c.store.listOperations({ unfinished: true, limit: 1000 })).map((o) => o.deploymentKey),
      );
      for (const [key, cluster] of [...c.clusters]) {
        if (shuttingDown || busy.has(key) || !c.supervisedDatabases.has(key) || (await cluster.isRunning()))
          continue;
        c.log(`local runtime: PostgreSQL of ${key} is not running; starting it (crash recovery)`);
        await c.store.addEvent({
          deploymentKey: key,
          kind: 'database-restarted',
          message: 'PostgreSQL was not running and was started again (crash recovery)',
        });
        await cluster.ensure();
      }
    })()
      .catch((error: unknown) => c.log(`local runtime: database watchdog: ${String(error)}`))
      .finally(() => {
        watching = false;
      });
  }, intervalMs);
  return {
    stop() {
      shuttingDown = true;
      clearInterval(timer);
    },
  };
}
