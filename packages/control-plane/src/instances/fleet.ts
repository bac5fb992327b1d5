/**
 * Fleet upgrades: the instances a filter selects, put in rings by msp.yaml's ring plan (internal first,
 * then trials, then production customers, as cumulative percentages), upgraded at most N at a time, each
 * ring after the soak that follows the one before, each instance inside its maintenance window unless
 * `--now`. Instances on channel `pause` (or paused) are listed as skipped. The first failure stops the
 * fleet (that instance rolled itself back); `resume` retries what failed. A loop (`tick`) drives every
 * running fleet from the state database, so a restarted control plane carries on.
 */
import { randomUUID } from 'node:crypto';
import { InputError, NotFoundError, parseDuration, type DeploymentSpec } from '@msp/core';
import { compareVersions, parseVersion } from '@msp/releaseregistry';
import type { Db } from '../state/db.js';
import { migrationsBeside, type MigrationSet } from '../state/migrate.js';
import type { StateStore } from '../state/store.js';
import type { InstanceService, InstanceView } from './service.js';
import { windowState, type MaintenanceWindow } from './windows.js';

export const FLEET_MIGRATIONS: MigrationSet = {
  module: 'instances',
  folder: migrationsBeside(import.meta.url),
};

export type MemberState = 'pending' | 'waiting-window' | 'running' | 'succeeded' | 'failed' | 'skipped';
export interface FleetMember {
  key: string;
  env: string;
  id: string;
  customer: string;
  type: string;
  ring: number;
  ringName: string;
  from: string;
  to: string;
  state: MemberState;
  reason: string | null;
  operationId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}
export interface FleetRequest {
  to: string;
  env?: string;
  types?: string[];
  filters?: string[];
  concurrency: number;
  soakMs: number;
  now?: { reason: string };
}
export interface Fleet {
  id: string;
  status: 'running' | 'paused' | 'stopped' | 'succeeded';
  toVersion: string;
  request: FleetRequest;
  members: FleetMember[];
  ringDoneAt: string | null;
  stopReason: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}
export interface RingPlan {
  name: string;
  internal?: number;
  trial?: number;
  production?: number;
}

export const DEFAULT_RINGS: RingPlan[] = [
  { name: 'internal', internal: 100 },
  { name: 'trials', trial: 100 },
  { name: 'production', production: 100 },
];

const TYPES = ['internal', 'trial', 'production'] as const;

/** Ring of each instance: per type, sorted by id, the first ⌈p% × n⌉ by the ring where p is first reached. */
export function assignRings(
  instances: readonly InstanceView[],
  plan: readonly RingPlan[],
): Map<string, number> {
  const out = new Map<string, number>();
  for (const type of TYPES) {
    const ofType = instances.filter((i) => i.type === type).sort((a, b) => a.key.localeCompare(b.key));
    let done = 0;
    let share = 0;
    plan.forEach((ring, r) => {
      share = Math.max(share, ring[type] ?? 0);
      const upTo = r === plan.length - 1 ? ofType.length : Math.ceil((share / 100) * ofType.length);
      for (; done < upTo; done++) out.set(ofType[done]!.key, r);
    });
  }
  return out;
}

/** `--filter label=value`: customer, channel, region, version, type, env, id, or feature (one of them). */
function matches(i: InstanceView, filters: readonly string[] = []): boolean {
  return filters.every((f) => {
    const [label, value] = f.split('=', 2) as [string, string];
    if (label === 'feature') return i.features.includes(value);
    const v = (i as unknown as Record<string, unknown>)[label];
    return (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') && String(v) === value;
  });
}
const LABELS = ['customer', 'channel', 'region', 'version', 'type', 'env', 'id', 'feature'];

function fleetOf(r: Record<string, unknown>): Fleet {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : (v as string | null));
  return {
    id: r.id as string,
    status: r.status as Fleet['status'],
    toVersion: r.to_version as string,
    request: r.request as FleetRequest,
    members: r.members as FleetMember[],
    ringDoneAt: iso(r.ring_done_at),
    stopReason: (r.stop_reason as string | null) ?? null,
    createdBy: r.created_by as string,
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
  };
}

export function createFleets(deps: {
  db: Db;
  store: StateStore;
  service: InstanceService;
  rings: () => Promise<{ plan: RingPlan[]; soak?: string }>;
  log: (line: string) => void;
}) {
  const { db, store, service } = deps;
  const get = async (id: string): Promise<Fleet> => {
    const { rows } = await db.query('select * from instance_fleets where id = $1', [id]);
    if (!rows[0]) throw new NotFoundError(`No fleet ${id}; see \`msp fleet list\`.`);
    return fleetOf(rows[0]);
  };
  const save = async (f: Fleet) => {
    await db.query(
      `update instance_fleets set status = $2, members = $3, ring_done_at = $4, stop_reason = $5, updated_at = now() where id = $1`,
      [f.id, f.status, JSON.stringify(f.members), f.ringDoneAt, f.stopReason],
    );
  };
  // One pass at a time per fleet in this process (the loop, a create and a resume may meet), each on a
  // fresh read: two passes on the same snapshot would start the same upgrade twice.
  const passes = new Map<string, Promise<unknown>>();
  const locked = <T>(id: string, fn: () => Promise<T>): Promise<T> => {
    const next = (passes.get(id) ?? Promise.resolve()).then(fn, fn);
    passes.set(
      id,
      next.catch(() => undefined),
    );
    return next;
  };
  const driveNow = (id: string) => locked(id, async () => drive(await get(id)));
  const event = (f: Fleet, kind: string, message: string) =>
    store.addEvent({ kind, message, data: { fleet: f.id, to: f.toVersion } });

  async function plan(
    body: {
      to: string;
      env?: string;
      types?: string[];
      filters?: string[];
      concurrency?: number;
      soak?: string;
      now?: boolean;
      nowReason?: string;
    },
    who: string,
  ): Promise<Fleet> {
    for (const f of body.filters ?? []) {
      const [label, value] = f.split('=', 2);
      if (!value || !LABELS.includes(label!)) {
        throw new InputError(`--filter ${f}: write label=value with a label among ${LABELS.join(', ')}.`);
      }
    }
    if (body.now && !body.nowReason?.trim()) {
      throw new InputError(
        '--now overrides maintenance windows: say why with --reason "<text>" (it is recorded).',
      );
    }
    const concurrency = body.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 50) {
      throw new InputError(`--concurrency ${concurrency}: a whole number from 1 to 50.`);
    }
    const { plan: rings, soak } = await deps.rings();
    const soakText = body.soak ?? soak ?? '10m';
    const soakMs = parseDuration(soakText);
    const all = (await service.list(body.env)).filter(
      (i) => (!body.types?.length || body.types.includes(i.type)) && matches(i, body.filters),
    );
    if (all.length === 0)
      throw new InputError('No instance matches the fleet’s selection; see `msp instance list`.');
    const services = [...new Set(all.map((i) => i.service))];
    if (services.length > 1)
      throw new InputError(`The selection spans products ${services.join(', ')}: filter one.`);
    const { release } = await service.releaseFor(services[0]!, body.to, 'production');
    const ringOf = assignRings(all, rings);
    const members: FleetMember[] = all
      .map((i): FleetMember => {
        const from = i.release ?? i.version;
        const paused = i.channel === 'pause' || i.paused;
        const a = parseVersion(from);
        const b = parseVersion(release.version);
        const newer = a && b ? compareVersions(a, b) > 0 : false;
        return {
          key: i.key,
          env: i.env,
          id: i.id,
          customer: i.customer,
          type: i.type,
          ring: ringOf.get(i.key) ?? rings.length - 1,
          ringName: rings[ringOf.get(i.key) ?? rings.length - 1]!.name,
          from,
          to: release.version,
          state: paused || newer || from === release.version ? 'skipped' : 'pending',
          reason: paused
            ? 'channel pause: left out of fleet upgrades'
            : newer
              ? `runs ${from}, newer than ${release.version}`
              : from === release.version
                ? `already on ${from}`
                : null,
          operationId: null,
          startedAt: null,
          finishedAt: null,
        };
      })
      .sort((a, b) => a.ring - b.ring || a.key.localeCompare(b.key));
    const now = new Date().toISOString();
    return {
      id: `fleet-${now.slice(0, 10).replace(/-/g, '')}-${randomUUID().slice(0, 6)}`,
      status: 'running',
      toVersion: release.version,
      request: {
        to: release.version,
        ...(body.env ? { env: body.env } : {}),
        ...(body.types?.length ? { types: body.types } : {}),
        ...(body.filters?.length ? { filters: body.filters } : {}),
        concurrency,
        soakMs,
        ...(body.now ? { now: { reason: body.nowReason!.trim() } } : {}),
      },
      members,
      ringDoneAt: null,
      stopReason: null,
      createdBy: who,
      createdAt: now,
      updatedAt: now,
    };
  }

  /** One pass over a running fleet: members' operations read, the next ones started. */
  async function drive(f: Fleet): Promise<void> {
    const before = JSON.stringify(f);
    for (const m of f.members.filter((x) => x.state === 'running' && x.operationId)) {
      const op = await store.getOperation(m.operationId!);
      if (!op || (op.status !== 'succeeded' && op.status !== 'failed')) continue;
      m.state = op.status === 'succeeded' ? 'succeeded' : 'failed';
      m.finishedAt = op.finishedAt ?? new Date().toISOString();
      if (op.status === 'failed') m.reason = op.error ?? 'failed';
    }
    const failed = f.members.find((m) => m.state === 'failed');
    const running = f.members.filter((m) => m.state === 'running');
    if (failed && f.status === 'running') {
      f.status = 'stopped';
      f.stopReason = `${failed.env}/${failed.id} failed: ${failed.reason?.split('\n')[0]}`;
      await event(f, 'fleet-stopped', `fleet ${f.id} to ${f.toVersion} stopped: ${f.stopReason}`);
    }
    const open = f.members.filter((m) => m.state === 'pending' || m.state === 'waiting-window');
    if (f.status === 'running' && open.length === 0 && running.length === 0) {
      f.status = 'succeeded';
      await event(f, 'fleet-completed', `fleet ${f.id}: every selected instance runs ${f.toVersion}`);
    }
    if (f.status === 'running') {
      const ring = Math.min(...[...open, ...running].map((m) => m.ring));
      const earlierRunning = running.some((m) => m.ring < ring);
      const lastDone = f.members
        .filter((m) => m.ring < ring && m.finishedAt)
        .reduce((t, m) => Math.max(t, Date.parse(m.finishedAt!)), 0);
      const soaked = lastDone === 0 || Date.now() >= lastDone + f.request.soakMs;
      if (!earlierRunning && soaked) {
        let slots = f.request.concurrency - running.length;
        for (const m of open.filter((x) => x.ring === ring)) {
          if (slots <= 0) break;
          const row = await store.getDeployment(m.key);
          const windows = (
            (row?.spec as DeploymentSpec | undefined)?.instance as
              { maintenance?: { windows: MaintenanceWindow[] } } | undefined
          )?.maintenance?.windows;
          const w = f.request.now ? ({ open: true } as const) : windowState(windows, new Date());
          if (!w.open) {
            m.state = 'waiting-window';
            m.reason = `waits for its maintenance window (next opens ${w.nextOpen.toISOString()})`;
            continue;
          }
          try {
            const op = await service.upgrade(
              m.env,
              m.id,
              { to: f.toVersion },
              `${f.createdBy} (fleet ${f.id})`,
              f.id,
            );
            m.state = 'running';
            m.operationId = 'id' in op ? op.id : null;
            m.startedAt = new Date().toISOString();
            m.reason =
              f.request.now && windows ? `outside its window: --now (${f.request.now.reason})` : null;
            slots--;
          } catch (error) {
            const message = (error as Error).message;
            if (/already runs/.test(message)) {
              m.state = 'skipped';
              m.reason = message;
            } else {
              m.state = 'failed';
              m.reason = message;
              m.finishedAt = new Date().toISOString();
            }
          }
        }
      }
    }
    if (JSON.stringify(f) !== before) await save(f);
  }

  return {
    plan,
    get,
    async create(body: Parameters<typeof plan>[0] & { dryRun?: boolean }, who: string) {
      const f = await plan(body, who);
      if (body.dryRun) return { dryRun: true as const, fleet: f };
      await db.query(
        `insert into instance_fleets (id, status, to_version, request, members, created_by) values ($1, 'running', $2, $3, $4, $5)`,
        [f.id, f.toVersion, JSON.stringify(f.request), JSON.stringify(f.members), who],
      );
      await event(
        f,
        'fleet-started',
        `fleet ${f.id} upgrades ${f.members.filter((m) => m.state === 'pending').length} instance(s) to ${f.toVersion} (by ${who})`,
      );
      await driveNow(f.id);
      return { dryRun: false as const, fleet: await get(f.id) };
    },
    async list(): Promise<Fleet[]> {
      return (await db.query('select * from instance_fleets order by created_at desc limit 100')).rows.map(
        fleetOf,
      );
    },
    pause: (id: string, who: string): Promise<Fleet> =>
      locked(id, async () => {
        const f = await get(id);
        if (f.status !== 'running')
          throw new InputError(`Fleet ${id} is ${f.status}, not running: nothing to pause.`);
        f.status = 'paused';
        await save(f);
        await event(f, 'fleet-paused', `fleet ${id} paused by ${who}; running upgrades finish`);
        return f;
      }),
    async resume(id: string, who: string): Promise<Fleet> {
      await locked(id, async () => {
        const f = await get(id);
        if (f.status === 'succeeded')
          throw new InputError(
            `Fleet ${id} has finished (every instance runs ${f.toVersion}): there is nothing to resume.`,
          );
        if (f.status === 'running') throw new InputError(`Fleet ${id} is running already.`);
        for (const m of f.members.filter((x) => x.state === 'failed')) {
          Object.assign(m, {
            state: 'pending',
            reason: `retried after a resume by ${who}`,
            operationId: null,
            startedAt: null,
            finishedAt: null,
          });
        }
        f.status = 'running';
        f.stopReason = null;
        await save(f);
        await event(f, 'fleet-resumed', `fleet ${id} resumed by ${who}`);
      });
      await driveNow(id);
      return get(id);
    },
    /** Drives every running fleet once (and records the upgrades a paused or stopped one still runs). */
    async tick(): Promise<void> {
      const { rows } = await db.query(
        `select * from instance_fleets where status = 'running' or members @> '[{"state": "running"}]'`,
      );
      for (const r of rows) {
        await driveNow(String(r.id)).catch((e: unknown) => deps.log(`fleets: ${String(e)}`));
      }
    },
  };
}

export type Fleets = ReturnType<typeof createFleets>;
