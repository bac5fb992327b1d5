/**
 * Alerting's signals of a local deployment (RuntimeTarget.signals): its instances' CPU time and memory (from
 * the platform module), startup latency and states, the proxy's pending requests and responses by status
 * class, and its PostgreSQL's own statistics (connections, lock waits, the archiver), CPU and memory of the
 * server's processes and the disk its data directory is on.
 */
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import {
  ARCHIVER_STATUS_SQL,
  currentPlatform,
  toArchiverStatus,
  type PostgresCluster,
  type ProcessUsage,
} from '@msp/runtime-local';
import type { DatabaseSignals, DeploymentSignals, RuntimeTarget } from '../../runtime-port.js';
import { currentInstances, type LocalContext } from './context.js';
import { WAL_RECEIVER_SLOT } from './wal-streams.js';

/** Connections (not counting this one), max_connections, the longest current lock wait, archive_timeout. */
const DATABASE_STATS_SQL = `SELECT
  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())::int AS connections,
  current_setting('max_connections')::int AS max_connections,
  (SELECT coalesce(max(extract(epoch FROM clock_timestamp() - coalesce(l.waitstart, a.query_start))), 0)
     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted)::float8 AS lock_wait,
  (SELECT setting::int FROM pg_settings WHERE name = 'archive_timeout') AS archive_timeout`;

/** WAL the streaming receiver's slot holds back (no row without a slot; fails in recovery: skipped). */
const SLOT_LAG_SQL = `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 AS lag
  FROM pg_replication_slots WHERE slot_name = '${WAL_RECEIVER_SLOT}' AND restart_lsn IS NOT NULL`;

const DISK_CACHE_MS = 30_000;

export function createSignals(c: LocalContext): Required<Pick<RuntimeTarget, 'signals'>> {
  const platform = currentPlatform();
  const diskCache = new Map<string, { at: number; used: number; total: number }>();
  // One connection per database kept for the statistics: when the application takes every other slot (the
  // connections alert), the sampler still sees it. Dropped when the server ends it (stop, restore).
  const monitors = new Map<PostgresCluster, pg.Client>();

  async function statistics(cluster: PostgresCluster, sql: string): Promise<Record<string, unknown>[]> {
    let client = monitors.get(cluster);
    if (!client) {
      const fresh = new pg.Client({
        ...cluster.connectionConfig('admin', 'postgres'),
        application_name: 'msp-signals',
      });
      fresh.on('error', () => {
        if (monitors.get(cluster) === fresh) monitors.delete(cluster);
      });
      await fresh.connect();
      monitors.set(cluster, (client = fresh));
    }
    try {
      return (await client.query<Record<string, unknown>>(sql)).rows;
    } catch (error) {
      monitors.delete(cluster);
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  async function disk(dir: string): Promise<{ used: number; total: number } | undefined> {
    const cached = diskCache.get(dir);
    if (cached && Date.now() - cached.at < DISK_CACHE_MS) return cached;
    try {
      const s = await statfs(dir);
      const entry = { at: Date.now(), used: (s.blocks - s.bavail) * s.bsize, total: s.blocks * s.bsize };
      diskCache.set(dir, entry);
      return entry;
    } catch {
      return undefined;
    }
  }

  async function database(
    cluster: PostgresCluster,
    cores: number,
    memoryGB: number,
  ): Promise<DatabaseSignals> {
    const pid = await cluster.pid().catch(() => undefined);
    if (pid === undefined) {
      await monitors
        .get(cluster)
        ?.end()
        .catch(() => undefined);
      monitors.delete(cluster);
      return { up: false };
    }
    const signals: DatabaseSignals = { up: true, cores, memoryLimitBytes: memoryGB * 1024 ** 3 };
    try {
      const [row] = await statistics(cluster, DATABASE_STATS_SQL);
      const [archiver] = await statistics(cluster, ARCHIVER_STATUS_SQL);
      if (row) {
        signals.connections = Number(row.connections);
        signals.maxConnections = Number(row.max_connections);
        signals.lockWaitSeconds = Number(row.lock_wait);
        signals.archiveTimeoutSeconds = Number(row.archive_timeout);
      }
      if (archiver) {
        const a = toArchiverStatus(archiver);
        signals.lastArchivedAt = a.lastArchivedTime;
        signals.walPending = a.pending;
      }
      const [slot] = await statistics(cluster, SLOT_LAG_SQL);
      if (slot) signals.walSlotLagBytes = Number(slot.lag);
    } catch {
      // It runs but does not answer (starting, or every connection taken): up, without statistics.
    }
    // The server's processes are the postmaster's process group.
    const members = (await platform.allProcesses())
      .filter((p) => p.pgrp === pid || p.pid === pid)
      .map((p) => p.pid);
    const usage = await platform.processUsage(members).catch(() => new Map<number, ProcessUsage>());
    let cpu = 0;
    let rss = 0;
    for (const u of usage.values()) {
      cpu += u.cpuSeconds;
      rss += u.rssBytes;
    }
    signals.cpuSeconds = cpu;
    signals.memoryBytes = rss;
    const d = await disk(join(cluster.options.dir, 'data'));
    if (d) {
      signals.diskUsedBytes = d.used;
      signals.diskTotalBytes = d.total;
    }
    return signals;
  }

  return {
    async signals(key): Promise<DeploymentSignals | undefined> {
      const d = c.deployments.get(key);
      const cluster = c.clusters.get(key);
      if (!d && !cluster) return undefined;
      const instances = currentInstances(c, key);
      const pids = instances.flatMap((s) => (s.pid !== undefined ? [s.pid] : []));
      const usage = await platform.processUsage(pids).catch(() => new Map<number, ProcessUsage>());
      const route = d
        ? c.proxy.stats().routes.find((r) => r.hostnames.includes(d.hostnames[0] ?? ''))
        : undefined;
      const result: DeploymentSignals = {
        instances: instances.map((s) => {
          const u = s.pid !== undefined ? usage.get(s.pid) : undefined;
          return {
            id: s.id,
            state: s.state.kind,
            ...(u ? { cpuSeconds: u.cpuSeconds, memoryBytes: u.rssBytes } : {}),
            ...(s.startupLatencyMs !== undefined ? { startupSeconds: s.startupLatencyMs / 1000 } : {}),
          };
        }),
        pendingRequests: route?.pending ?? 0,
        ...(route
          ? {
              responses: route.responses,
              responseCodes: route.codes,
              responseLatencyMsTotal: route.latencyMsTotal,
            }
          : {}),
      };
      if (cluster) {
        const row = await c.store.getDeployment(key).catch(() => undefined);
        const pg = (
          row?.spec as { environment?: { resources?: { postgreSQL?: { cpu?: number; memoryGB?: number } } } }
        )?.environment?.resources?.postgreSQL;
        result.database = await database(cluster, pg?.cpu ?? 1, pg?.memoryGB ?? 4);
      }
      return result;
    },
  };
}
