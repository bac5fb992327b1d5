/**
 * Issue 9 #2, a variant: the state database's connection lost in the middle of a transaction (its
 * postmaster killed, or the backend terminated) while the transaction waits between two statements. A
 * checked-out pool client has no error listener of the pool's, so its 'error' event used to be unhandled
 * and took the whole control plane down (`msp up` died with "Connection terminated unexpectedly").
 * Now the transaction fails with a 503-type error and the process lives on.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { UnavailableError } from '@msp/core';
import { startTestCluster, type TestCluster } from '@msp/runtime-local/testing';
import { eventually } from '../testing/index.js';
import { createDb } from './db.js';

let tc: TestCluster;
let pool: pg.Pool;

before(async () => {
  tc = await startTestCluster({ name: 'connection-loss' });
  pool = new pg.Pool({ connectionString: tc.connectionString('admin'), max: 2 });
  pool.on('error', () => undefined);
});
after(async () => {
  await pool?.end();
  await tc?.cleanup();
});

test('a transaction whose connection is cut between two statements fails; the process does not crash', async () => {
  const db = createDb(pool);
  let pid: number | undefined;
  let resume!: () => void;
  const paused = new Promise<void>((resolve) => (resume = resolve));
  const tx = db.transaction(async (t) => {
    pid = (await t.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    await paused; // idle in transaction: no statement runs when the connection goes
    await t.query('select 1');
  });
  await eventually('the transaction to start', 5000, () => pid);
  await pool.query('select pg_terminate_backend($1)', [pid]);
  await eventually('the backend to be gone', 5000, async () =>
    (await pool.query('select 1 from pg_stat_activity where pid = $1', [pid])).rowCount === 0
      ? true
      : undefined,
  );
  // The client hears of it on its socket a moment later: give that event its chance to crash the process.
  await new Promise((resolve) => setTimeout(resolve, 300));
  resume();
  await assert.rejects(tx, (e: Error) => e instanceof UnavailableError || /terminat/i.test(e.message));
  // The pool dropped the broken client and still serves.
  assert.equal((await db.query<{ n: number }>('select 1 as n')).rows[0]!.n, 1);
  await db.transaction(async (t) => assert.equal((await t.query('select 1')).rowCount, 1));
});
