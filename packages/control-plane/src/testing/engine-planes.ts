/**
 * Control planes for the operation engine's tests (lease.test.ts, engine.test.ts): each its own pool, job
 * queue client and engine with its own owner name, over one real PostgreSQL state database. Each file's
 * `afterEach` stops the planes its test started, so the next test's operations are not offered to them.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import PgBoss from 'pg-boss';
import type { Operation } from '@msp/core';
import { startTestCluster, type TestCluster } from '@msp/runtime-local/testing';
import { createOperationEngine, type OperationEngine, type OperationHandler } from '../operations/engine.js';
import { createSecretBox } from '../secrets.js';
import { createDb } from '../state/db.js';
import { CORE_MIGRATIONS, migrateState } from '../state/migrate.js';
import { createStateStore, type StateStore } from '../state/store.js';

// Short, so takeovers are quick; not so short that a loaded machine misses a renewal (3 renewals a lease).
export const LEASE_SECONDS = 3;

export interface Plane {
  owner: string;
  store: StateStore;
  boss: PgBoss;
  engine: OperationEngine;
  /** What the control plane wrote to its process log. */
  lines: string[];
}

export interface Planes {
  /** The state database's connection string. */
  url: string;
  /** What the current test started, undone by `stopPlanes` (tests may add their own). */
  cleanups: Array<() => Promise<unknown>>;
  startPlane(owner: string, handler: OperationHandler, renewEveryMs?: number): Promise<Plane>;
  /** Stops the current test's planes (call it in afterEach). */
  stopPlanes(): Promise<void>;
  close(): Promise<void>;
}

export async function startPlanes(name: string): Promise<Planes> {
  const db: TestCluster = await startTestCluster({ databases: ['msp'], name });
  const url = db.connectionString('admin', 'msp');
  const setup = new pg.Pool({ connectionString: url, max: 1 });
  await migrateState(createDb(setup), [CORE_MIGRATIONS]);
  await setup.end();
  const cleanups: Array<() => Promise<unknown>> = [];
  return {
    url,
    cleanups,
    async startPlane(owner, handler, renewEveryMs) {
      const pool = new pg.Pool({ connectionString: url, max: 5 });
      pool.on('error', () => undefined);
      cleanups.push(() => pool.end());
      const store = createStateStore(pool, createSecretBox(randomBytes(32)));
      const boss = new PgBoss({ connectionString: url, max: 3, schema: 'pgboss' });
      boss.on('error', () => undefined);
      await boss.start();
      cleanups.push(() => boss.stop({ graceful: false, wait: true, timeout: 5000 }));
      const lines: string[] = [];
      const engine = createOperationEngine({
        store,
        boss,
        handlers: [handler],
        owner,
        leaseSeconds: LEASE_SECONDS,
        ...(renewEveryMs === undefined ? {} : { renewEveryMs }),
        log: (line) => lines.push(line),
      });
      await engine.start();
      cleanups.push(() => engine.stop());
      return { owner, store, boss, engine, lines };
    },
    async stopPlanes() {
      for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
    },
    close: () => db.cleanup(),
  };
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** An operation's steps as `name:status:detail`. */
export const stepsOf = (op: Operation | undefined) =>
  op?.steps.map((s) => `${s.name}:${s.status}:${s.detail ?? ''}`);
