import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startTestCluster, type TestCluster } from '../testing.js';
import { startWalReceiver, type WalReceiver } from './index.js';

let tc: TestCluster;
let receiver: WalReceiver | undefined;

void before(async () => {
  tc = await startTestCluster({ databases: ['app'], name: 'outage' });
});
void after(async () => {
  await receiver?.stop().catch(() => undefined);
  await tc.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

void describe('WAL receiver outage', () => {
  // The minute shrunk to 3 s (with a segment switch every ~100 ms: dozens of segments missed live);
  // MSP_TEST_OUTAGE_SECONDS=60 runs the minute itself (a switch every 2 s: the slot's WAL stays under its
  // 1 GiB bound).
  const outageMs = Number(process.env.MSP_TEST_OUTAGE_SECONDS ?? 3) * 1000;
  const switchEveryMs = Math.max(100, Math.round(outageMs / 30));
  void it(`the receiver killed for ${outageMs / 1000} s while writes continue: the archive has every segment afterwards`, async (t) => {
    const archive = tc.cluster.options.archiveDir;
    // archive_command archives nothing here: every segment in the archive comes from the stream alone.
    await tc.cluster.query(`ALTER SYSTEM SET archive_command = 'true'`);
    await tc.cluster.query('SELECT pg_reload_conf()');
    await tc.cluster.query('CREATE TABLE w (id serial primary key, pad text)', [], 'app');
    const connection = tc.cluster.connectionConfig('admin', 'postgres');
    receiver = await startWalReceiver({ connection, archiveDir: archive, slot: 'msp_outage' });
    const first = (
      await tc.cluster.query<{ f: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS f')
    )[0]!.f;

    // Writes never stop; each pass ends its segment so the outage spans many of them.
    const writer = new pg.Client(tc.cluster.connectionConfig('admin', 'app'));
    await writer.connect();
    let writing = true;
    let committed = 0;
    const writes = (async () => {
      while (writing) {
        await writer.query(`INSERT INTO w (pad) SELECT repeat('x', 200) FROM generate_series(1, 50)`);
        committed += 50;
        await writer.query('SELECT pg_switch_wal()');
        await sleep(switchEveryMs);
      }
    })();

    await sleep(1000);
    // Killed: its walsender is terminated under it (the stream ends with an error, nothing is flushed on purpose).
    await tc.cluster.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'msp_outage'`,
    );
    await assert.rejects(receiver.ended, 'the killed stream ends with an error');
    const before = committed;
    const walfile = async () =>
      (await tc.cluster.query<{ f: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS f'))[0]!.f;
    const killedAt = await walfile();
    await sleep(outageMs);
    const restartedAt = await walfile();
    assert.ok(committed - before >= 500, `writes continued during the outage (${committed - before} rows)`);
    receiver = await startWalReceiver({ connection, archiveDir: archive, slot: 'msp_outage' });
    await sleep(1000);
    writing = false;
    await writes;
    await writer.end();
    // The last committed row ends its segment: the archive must reach it.
    await tc.cluster.query('INSERT INTO w (pad) VALUES ($1)', ['last'], 'app');
    const [end] = await tc.cluster.query<{ f: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS f');
    await tc.cluster.query('SELECT pg_switch_wal()');
    const deadline = Date.now() + 30_000;
    while (!(await readdir(archive)).includes(`${end!.f}.gz`)) {
      if (Date.now() > deadline) assert.fail(`segment ${end!.f} never reached the archive`);
      await sleep(100);
    }
    await receiver.stop();
    receiver = undefined;

    // Every segment from the first streamed to the last written is there, with no gap.
    const [size] = await tc.cluster.query<{ s: string }>(
      `SELECT setting::bigint * 1 AS s FROM pg_settings WHERE name = 'wal_segment_size'`,
    );
    const perLog = 0x100000000n / BigInt(size!.s);
    const segno = (name: string) =>
      BigInt(`0x${name.slice(8, 16)}`) * perLog + BigInt(`0x${name.slice(16, 24)}`);
    const archived = new Set(
      (await readdir(archive)).filter((n) => /^[0-9A-F]{24}\.gz$/.test(n)).map((n) => segno(n.slice(0, 24))),
    );
    const missing: bigint[] = [];
    for (let s = segno(first); s <= segno(end!.f); s++) if (!archived.has(s)) missing.push(s);
    t.diagnostic(
      `${segno(end!.f) - segno(first) + 1n} segments (${segno(restartedAt) - segno(killedAt)} during the ` +
        `outage), ${committed} rows written`,
    );
    assert.ok(segno(restartedAt) - segno(killedAt) >= 5n, 'the outage spanned several segments');
    assert.deepEqual(missing, [], 'no segment missing from the archive');
  });
});
