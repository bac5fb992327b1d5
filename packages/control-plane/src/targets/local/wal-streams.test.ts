import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { startTestCluster, type TestCluster } from '@msp/runtime-local/testing';
import type { LocalContext } from './context.js';
import { createSignals } from './signals.js';
import { startWalStreams, stopWalStream, WAL_RECEIVER_SLOT } from './wal-streams.js';

// A real cluster and the real WAL streams; the state store is reduced to the two calls the streams make.
let tc: TestCluster;
let streams: { stop(): Promise<void> } | undefined;
const events: { deploymentKey: string; kind: string; message: string }[] = [];
const key = 'app/prod';

void before(async () => {
  tc = await startTestCluster({ databases: ['app'], name: 'streams', maxSlotWalKeepMB: 1 });
});
void after(async () => {
  await streams?.stop();
  await tc.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function contextOf(tc: TestCluster, supervised: Set<string>, synchronousWal: boolean): LocalContext {
  return {
    clusters: new Map([[key, tc.cluster]]),
    supervisedDatabases: supervised,
    deployments: new Map(),
    log: () => undefined,
    store: {
      getDeployment: () => Promise.resolve(undefined),
      listOperations: () => Promise.resolve([]),
      requireDeployment: () =>
        Promise.resolve({ spec: { environment: { resources: { postgreSQL: { synchronousWal } } } } }),
      addEvent: (e: { deploymentKey: string; kind: string; message: string }) => {
        events.push(e);
        return Promise.resolve();
      },
    },
  } as unknown as LocalContext;
}
const standbyNames = async (tc: TestCluster) =>
  (await tc.cluster.query<{ s: string }>(`SELECT current_setting('synchronous_standby_names') AS s`))[0]!.s;

void describe('local WAL streams', () => {
  void it('a receiver down past maxSlotWalKeepMB: its slot is dropped with a loud event, writes go on, archive_command archives them, streaming resumes', async () => {
    const supervised = new Set([key]);
    const c = contextOf(tc, supervised, false);
    streams = startWalStreams(c, 200);
    const slot = async () =>
      (
        await tc.cluster.query<{ active: boolean; wal_status: string | null }>(
          'SELECT active, wal_status FROM pg_replication_slots WHERE slot_name = $1',
          [WAL_RECEIVER_SLOT],
        )
      )[0];
    await until('the receiver to stream', async () => (await slot())?.active === true);
    assert.equal(await standbyNames(tc), '', 'asynchronous unless the service opts in');

    // The receiver is down (its database out of the watched set) while writes go on past 1 MB.
    supervised.delete(key);
    await stopWalStream(c, key);
    await tc.cluster.query('CREATE TABLE w (id serial primary key, pad text)', [], 'app');
    const outage: string[] = [];
    for (let i = 0; i < 4; i++) {
      await tc.cluster.query(
        `INSERT INTO w (pad) SELECT repeat('x', 1000) FROM generate_series(1, 2000)`,
        [],
        'app',
      );
      outage.push(
        (await tc.cluster.query<{ f: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS f'))[0]!.f,
      );
    }
    // Visible before PostgreSQL gives up: the alerts signal wal_slot_lag_bytes grows with the outage.
    const database = (await createSignals(c).signals(key))?.database;
    const lag = database?.walSlotLagBytes;
    assert.ok(lag !== undefined && lag > 3 * 16 * 2 ** 20, `slot lag ${lag} bytes after 4 segments`);
    // The postmaster's process group, found among all processes (asynchronously), is measured.
    assert.ok((database?.memoryBytes ?? 0) > 0, `database memory ${database?.memoryBytes} bytes`);
    await tc.cluster.query('CHECKPOINT');
    assert.equal(
      (await slot())?.wal_status,
      'lost',
      'PostgreSQL gave the slot up (the disk is never filled)',
    );

    // Back: the slot is dropped loudly and a new one streams.
    supervised.add(key);
    await until('the wal-slot-dropped event', () =>
      Promise.resolve(events.some((e) => e.kind === 'wal-slot-dropped')),
    );
    const event = events.find((e) => e.kind === 'wal-slot-dropped')!;
    assert.equal(event.deploymentKey, key);
    assert.match(event.message, /max_slot_wal_keep_size/);
    await until('a new slot to stream', async () => {
      const s = await slot();
      return s?.active === true && s.wal_status !== 'lost';
    });

    // Writes never stopped, and archive_command archived what the stream missed.
    await tc.cluster.query('INSERT INTO w (pad) VALUES ($1)', ['after'], 'app');
    await until('archive_command to archive the outage', async () => {
      const names = await readdir(tc.cluster.options.archiveDir);
      return outage.every((f) => names.includes(`${f}.gz`));
    });
  });

  void it('postgreSQL.synchronousWal: the receiver is named synchronous once it streams, and cleared before a stop on purpose so commits never hang', async () => {
    const sync = await startTestCluster({ databases: ['app'], name: 'sync' });
    const local = startWalStreams(contextOf(sync, new Set([key]), true), 200);
    try {
      await until('the receiver to be the synchronous standby', async () => {
        const [row] = await sync.cluster.query<{ s: string }>(
          `SELECT sync_state AS s FROM pg_stat_replication WHERE application_name = $1`,
          [WAL_RECEIVER_SLOT],
        );
        return row?.s === 'sync';
      });
      assert.equal(await standbyNames(sync), `"${WAL_RECEIVER_SLOT}"`);
      await sync.cluster.query('CREATE TABLE t (id int)', [], 'app');
      // Stopped on purpose (a deploy or restore stopping the database): the name goes first.
      await local.stop();
      assert.equal(await standbyNames(sync), '');
      const committed = sync.cluster.query('INSERT INTO t VALUES (1)', [], 'app').then(() => true);
      const hung = sleep(5000).then(() => false);
      assert.ok(await Promise.race([committed, hung]), 'a commit with the receiver stopped returns');
    } finally {
      await local.stop();
      await sync.cleanup();
    }
  });
});
