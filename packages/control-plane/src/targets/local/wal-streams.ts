/**
 * Streaming WAL for the local target: every watched database (the database watchdog's set: deployed, its
 * workload running, no operation in progress) gets a WAL receiver (runtime-local's `startWalReceiver`)
 * streaming into its archive from a physical slot, started again when it ends, so the data a crash can
 * lose is what was written in the last few milliseconds instead of up to `archive_timeout`;
 * `archive_command` stays the fallback. PostgreSQL invalidates the slot when the receiver falls further
 * behind than `max_slot_wal_keep_size` (the disk is never filled): the receiver then drops it with a
 * loud event and starts over from a new one (archive_command still archived everything meanwhile).
 * `MSP_WAL_STREAMING=off` turns it off. With service.yaml `postgreSQL.synchronousWal: true`, once its receiver
 * streams, `synchronous_standby_names` names it (a commit returns only once streamed: RPO 0); it is cleared
 * before the receiver is stopped on purpose, so commits never hang on a receiver stopped on purpose.
 */
import { startWalReceiver, type WalReceiver } from '@msp/runtime-local';
import type { DeploymentSpec } from '@msp/core';
import type { LocalContext } from './context.js';

export const WAL_RECEIVER_SLOT = 'msp_wal_receiver';

const streamsOf = new WeakMap<LocalContext, (key: string) => Promise<void>>();

/** Stops `key`'s receiver now (its database is being stopped on purpose); the next pass may start it again. */
export async function stopWalStream(c: LocalContext, key: string): Promise<void> {
  await streamsOf.get(c)?.(key);
}

export function startWalStreams(c: LocalContext, intervalMs = 2000): { stop(): Promise<void> } {
  const receivers = new Map<string, WalReceiver>();
  const starting = new Set<string>();
  /** Deployments whose synchronous_standby_names names their receiver. */
  const synchronous = new Set<string>();
  let stopped = false;
  let running = false;

  // An invalidated slot (found at start, or the stream ended by it) is dropped loudly; the next pass creates it anew.
  const dropIfLost = async (key: string, error: Error) => {
    if (!/can no longer get changes|invalidated|has been lost/i.test(error.message)) return;
    await c.clusters
      .get(key)
      ?.query(`SELECT pg_drop_replication_slot($1)`, [WAL_RECEIVER_SLOT])
      .catch(() => undefined);
    await c.store
      .addEvent({
        deploymentKey: key,
        kind: 'wal-slot-dropped',
        message:
          'The WAL receiver fell further behind than max_slot_wal_keep_size: PostgreSQL invalidated its ' +
          'replication slot, which was dropped and created again. WAL between was archived by ' +
          'archive_command only (RPO up to archive_timeout meanwhile).',
      })
      .catch((e: Error) => c.log(`local runtime: wal-slot-dropped event not recorded: ${e.message}`));
  };

  const setSynchronous = async (key: string, on: boolean) => {
    const cluster = c.clusters.get(key);
    if (!cluster) return;
    await cluster.query(
      on
        ? `ALTER SYSTEM SET synchronous_standby_names = '"${WAL_RECEIVER_SLOT}"'`
        : 'ALTER SYSTEM RESET synchronous_standby_names',
    );
    await cluster.query('SELECT pg_reload_conf()');
  };
  const clearSynchronous = async (key: string) => {
    if (!synchronous.delete(key)) return;
    await setSynchronous(key, false).catch((e: Error) =>
      c.log(`local runtime: synchronous WAL of ${key} not cleared: ${e.message}`),
    );
  };
  const stopReceiver = async (key: string) => {
    const receiver = receivers.get(key);
    receivers.delete(key);
    await clearSynchronous(key);
    await receiver?.stop();
  };

  const start = async (key: string) => {
    const cluster = c.clusters.get(key);
    if (!cluster) return;
    starting.add(key);
    try {
      const spec = (await c.store.requireDeployment(key)).spec as DeploymentSpec;
      const sync = spec.environment.resources?.postgreSQL?.synchronousWal === true;
      const receiver = await startWalReceiver({
        connection: cluster.connectionConfig('admin', 'postgres'),
        archiveDir: cluster.options.archiveDir,
        slot: WAL_RECEIVER_SLOT,
        // Synchronous: each commit waits for the flush. Else batching fdatasync over 20 ms keeps it off the
        // event loop's back.
        flushEveryMs: sync ? 0 : 20,
        log: (m) => c.log(`local runtime: WAL stream of ${key}: ${m}`),
      });
      if (stopped) {
        await receiver.stop();
        return;
      }
      receivers.set(key, receiver);
      receiver.ended
        .catch(async (error: Error) => {
          c.log(`local runtime: WAL stream of ${key} ended: ${error.message}`);
          await dropIfLost(key, error);
        })
        .finally(() => {
          if (receivers.get(key) === receiver) receivers.delete(key);
        });
      // Named only now that it streams (a commit before would wait for it); set again on each restart.
      if (sync) {
        synchronous.add(key);
        await setSynchronous(key, true);
      } else {
        // Opted out since (or set by an earlier run): a leftover name would make commits wait for nothing.
        const [row] = await cluster.query<{ s: string }>(
          `SELECT current_setting('synchronous_standby_names') AS s`,
        );
        if (row?.s) await setSynchronous(key, false);
      }
    } catch (error) {
      c.log(`local runtime: WAL stream of ${key} not started: ${(error as Error).message}`);
      await clearSynchronous(key);
      await dropIfLost(key, error as Error);
    } finally {
      starting.delete(key);
    }
  };

  const pass = async () => {
    if (running || stopped) return;
    running = true;
    try {
      const busy = new Set(
        (await c.store.listOperations({ unfinished: true, limit: 1000 })).map((o) => o.deploymentKey),
      );
      const want = new Set<string>();
      for (const [key, cluster] of c.clusters) {
        if (c.supervisedDatabases.has(key) && !busy.has(key) && (await cluster.isRunning())) want.add(key);
      }
      for (const key of [...receivers.keys()]) if (!want.has(key)) await stopReceiver(key);
      for (const key of want) if (!receivers.has(key) && !starting.has(key)) void start(key);
    } catch (error) {
      c.log(`local runtime: WAL streams: ${(error as Error).message}`);
    } finally {
      running = false;
    }
  };

  streamsOf.set(c, stopReceiver);
  const enabled = (process.env.MSP_WAL_STREAMING ?? 'on') !== 'off';
  const timer = enabled ? setInterval(() => void pass(), intervalMs) : undefined;
  timer?.unref();
  return {
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await Promise.all([...receivers.keys()].map((key) => stopReceiver(key).catch(() => undefined)));
    },
  };
}
