/**
 * The signal sampler: every `sampleIntervalSeconds` it asks each running deployment's target for its
 * signals (RuntimeTarget.signals), turns counters into rates and usage into ratios against the spec's
 * limits, adds backup ages, and keeps the points three ways: in the state database for 24 h (the
 * dashboard's `GET /signals`), in a short in-memory window the rule engine evaluates, and as the latest
 * value of a Prometheus gauge (`/metrics`, labels service, environment, instance). Besides SIGNALS, a
 * response's exact status code is counted as `responses_code_<code>` (only codes seen since the last
 * sample; stored and evaluated, no gauge), for response-code ratios that name a code or exclude some.
 */
import { parseMemory } from '@msp/spec';
import { Gauge, type Registry } from 'prom-client';
import type { DeploymentSpec } from '@msp/core';
import type { DeploymentSignals } from '../runtime-port.js';
import type { DeploymentRow } from '../state/store.js';
import type { SignalPoint } from './store.js';

/** Every signal the sampler records: its name (stored), its unit and what it is. */
export const SIGNALS = {
  container_cpu: 'container CPU usage / its CPU limit (ratio)',
  container_memory: 'container resident memory / its memory limit (ratio)',
  container_startup_seconds: 'time from start to healthy of the instance (seconds)',
  instances_running: 'instances starting, healthy or unhealthy (count)',
  precondition_failed: 'instances that could not start at all (count)',
  pending_requests: 'requests in flight or waiting at the proxy (count)',
  responses_1xx: 'responses with a 1xx status since the last sample',
  responses_2xx: 'responses with a 2xx status since the last sample',
  responses_3xx: 'responses with a 3xx status since the last sample',
  responses_4xx: 'responses with a 4xx status since the last sample',
  responses_5xx: 'responses with a 5xx status since the last sample',
  responses_total: 'responses since the last sample',
  response_latency_ms:
    'mean time from the proxy forwarding a request to the response head, over the responses since the last sample (ms)',
  uptime: 'uptime check through the proxy passed (1) or failed (0)',
  db_up: 'database server up (1) or down (0)',
  db_connections: 'database backends / max_connections (ratio)',
  db_cpu: 'database CPU usage / its cores (ratio)',
  db_memory: 'database resident memory / its memory size (ratio)',
  db_disk: 'used / total bytes of the disk holding the data directory (ratio)',
  db_lock_wait_seconds: 'longest current lock wait of a query (seconds)',
  wal_age_seconds:
    'age of the last archived WAL while segments wait for the archiver (seconds; 0 when none waits)',
  wal_slot_lag_bytes: 'WAL the streaming receiver has not flushed yet, held by its slot (bytes)',
  backup_age_seconds: 'age of the last good base backup (seconds)',
} as const;
export type SignalName = keyof typeof SIGNALS;

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** The signal counting responses with exactly this status code. */
export const codeSignal = (code: number | string): string => `responses_code_${code}`;

/** What the sampler remembers between samples: cumulative counters, to turn them into rates. */
export interface SamplerMemory {
  cpu: Map<string, { at: number; seconds: number }>;
  responses: Map<string, Record<string, number>>;
  codes: Map<string, Readonly<Record<string, number>>>;
  latency: Map<string, number>;
  walPendingSince: Map<string, number>;
}

export const newSamplerMemory = (): SamplerMemory => ({
  cpu: new Map(),
  responses: new Map(),
  codes: new Map(),
  latency: new Map(),
  walPendingSince: new Map(),
});

function rate(mem: SamplerMemory, id: string, now: number, seconds: number | undefined): number | undefined {
  if (seconds === undefined) return undefined;
  const prev = mem.cpu.get(id);
  mem.cpu.set(id, { at: now, seconds });
  if (!prev || now <= prev.at || seconds < prev.seconds) return undefined;
  return (seconds - prev.seconds) / ((now - prev.at) / 1000);
}

/** The points of one deployment's signals at `now`. */
export function pointsOf(
  row: DeploymentRow,
  s: DeploymentSignals,
  mem: SamplerMemory,
  now: number,
  lastGoodBackupAt: string | undefined,
): SignalPoint[] {
  const spec = row.spec as DeploymentSpec;
  const at = new Date(now).toISOString();
  const points: SignalPoint[] = [];
  const put = (signal: SignalName, value: number | undefined, instance = '') => {
    if (value !== undefined && Number.isFinite(value))
      points.push({ at, deploymentKey: row.key, signal, instance, value });
  };
  const resources = spec.environment.instances?.resources;
  const cpuLimit = resources?.cpu ?? 1;
  const memoryLimit = (parseMemory(resources?.memory ?? '512Mi') ?? 512) * 1024 * 1024;
  for (const i of s.instances) {
    const cpu = rate(mem, `${row.key}\0${i.id}`, now, i.cpuSeconds);
    put('container_cpu', cpu === undefined ? undefined : cpu / cpuLimit, i.id);
    put('container_memory', i.memoryBytes === undefined ? undefined : i.memoryBytes / memoryLimit, i.id);
    put('container_startup_seconds', i.startupSeconds, i.id);
  }
  put(
    'instances_running',
    s.instances.filter((i) => ['starting', 'healthy', 'unhealthy'].includes(i.state)).length,
  );
  put('precondition_failed', s.instances.filter((i) => i.state === 'precondition_failed').length);
  put('pending_requests', s.pendingRequests);
  if (s.responses) {
    const prev = mem.responses.get(row.key);
    mem.responses.set(row.key, { ...s.responses });
    if (prev) {
      let total = 0;
      for (const c of CLASSES) {
        const delta = Math.max(0, s.responses[c] - (prev[c] ?? 0));
        total += delta;
        put(`responses_${c}`, delta);
      }
      put('responses_total', total);
      const before = mem.latency.get(row.key);
      if (total > 0 && before !== undefined && s.responseLatencyMsTotal !== undefined)
        put('response_latency_ms', Math.max(0, s.responseLatencyMsTotal - before) / total);
    }
    if (s.responseLatencyMsTotal !== undefined) mem.latency.set(row.key, s.responseLatencyMsTotal);
  }
  if (s.responseCodes) {
    const prev = mem.codes.get(row.key);
    mem.codes.set(row.key, { ...s.responseCodes });
    if (prev) {
      for (const [code, count] of Object.entries(s.responseCodes)) {
        const delta = count - (prev[code] ?? 0);
        if (delta > 0)
          points.push({ at, deploymentKey: row.key, signal: codeSignal(code), instance: '', value: delta });
      }
    }
  }
  const db = s.database;
  if (db) {
    put('db_up', db.up ? 1 : 0);
    if (db.connections !== undefined && db.maxConnections)
      put('db_connections', db.connections / db.maxConnections);
    const cpu = rate(mem, `${row.key}\0db`, now, db.cpuSeconds);
    if (cpu !== undefined && db.cores) put('db_cpu', cpu / db.cores);
    if (db.memoryBytes !== undefined && db.memoryLimitBytes)
      put('db_memory', db.memoryBytes / db.memoryLimitBytes);
    if (db.diskUsedBytes !== undefined && db.diskTotalBytes)
      put('db_disk', db.diskUsedBytes / db.diskTotalBytes);
    put('db_lock_wait_seconds', db.lockWaitSeconds);
    if (db.walPending !== undefined) {
      if (db.walPending > 0) {
        if (!mem.walPendingSince.has(row.key)) mem.walPendingSince.set(row.key, now);
        const since = db.lastArchivedAt ? Date.parse(db.lastArchivedAt) : mem.walPendingSince.get(row.key)!;
        put('wal_age_seconds', Math.max(0, (now - since) / 1000));
      } else {
        mem.walPendingSince.delete(row.key);
        put('wal_age_seconds', 0);
      }
    }
    put('wal_slot_lag_bytes', db.walSlotLagBytes);
    const since = lastGoodBackupAt ?? row.createdAt;
    put('backup_age_seconds', Math.max(0, (now - Date.parse(since)) / 1000));
  }
  return points;
}

/** One gauge per signal at /metrics, holding each series' latest value. */
export function signalGauges(
  registry: Registry | undefined,
): (row: DeploymentRow, points: readonly SignalPoint[]) => void {
  if (!registry) return () => undefined;
  const gauges = new Map<string, Gauge>();
  for (const [name, help] of Object.entries(SIGNALS)) {
    gauges.set(
      name,
      new Gauge({
        name: `msp_signal_${name}`,
        help,
        labelNames: ['service', 'environment', 'instance'],
        registers: [registry],
      }),
    );
  }
  const previous = new Map<string, Array<{ signal: string; labels: Record<string, string> }>>();
  return (row, points) => {
    const environment = row.instance ? `${row.environment}/${row.instance}` : row.environment;
    const now: Array<{ signal: string; labels: Record<string, string> }> = [];
    for (const p of points) {
      const labels = { service: row.service, environment, instance: p.instance };
      gauges.get(p.signal)?.set(labels, p.value);
      now.push({ signal: p.signal, labels });
    }
    // A series of an instance that is gone leaves with the deployment's next sample.
    const seen = new Set(now.map((n) => `${n.signal}\0${n.labels.instance}`));
    for (const old of previous.get(row.key) ?? [])
      if (!seen.has(`${old.signal}\0${old.labels.instance}`)) gauges.get(old.signal)?.remove(old.labels);
    previous.set(row.key, now);
  };
}
