/**
 * The database watchdog mechanism: every interval, each watched PostgreSQL that is not running (kill -9, OOM)
 * is started again, which runs crash recovery. One pass at a time; stop() waits for the pass in flight.
 * The local target watches deployment databases with it, the control plane its embedded state database.
 */
export interface WatchedDatabase {
  isRunning(): Promise<boolean>;
  /** Starts it if it is not running (idempotent). */
  ensure(): Promise<void>;
}

export interface WatchdogOptions {
  intervalMs: number;
  /** The databases to watch in this pass, by name (leave out those stopped on purpose). */
  watched: () => Promise<Iterable<readonly [string, WatchedDatabase]>>;
  /** Told before a database is started again. */
  restarting?: (name: string) => Promise<void> | void;
  /** Told once it runs again. */
  restarted?: (name: string) => Promise<void> | void;
  /** A failed pass; the next one tries again. */
  failed: (error: unknown) => void;
}

export interface Watchdog {
  /** Runs a pass now (unless one is in flight) and resolves when it is done. */
  check(): Promise<void>;
  stop(): Promise<void>;
}

export function startWatchdog(options: WatchdogOptions): Watchdog {
  let pass: Promise<void> | undefined;
  let stopped = false;
  const check = (): Promise<void> => {
    if (pass || stopped) return pass ?? Promise.resolve();
    pass = (async () => {
      for (const [name, db] of await options.watched()) {
        if (stopped || (await db.isRunning())) continue;
        await options.restarting?.(name);
        if (stopped) return;
        await db.ensure();
        await options.restarted?.(name);
      }
    })()
      .catch(options.failed)
      .finally(() => {
        pass = undefined;
      });
    return pass;
  };
  const timer = setInterval(() => void check(), options.intervalMs);
  return {
    check,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await pass;
    },
  };
}
