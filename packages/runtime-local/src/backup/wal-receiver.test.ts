import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { findFreePort } from '../net.js';
import { createPostgresCluster, postgresOsUser, type PostgresCluster } from '../postgres/index.js';
import { startTestCluster, type TestCluster } from '../testing.js';
import {
  createDirectoryRepository,
  restoreBaseBackup,
  startWalReceiver,
  takeBaseBackup,
  waitForRecovery,
  writeRecoveryConfig,
  type WalReceiver,
} from './index.js';

let tc: TestCluster;
let dir: string;
let restored: PostgresCluster | undefined;
let receiver: WalReceiver | undefined;

void before(async () => {
  tc = await startTestCluster({ databases: ['app'], name: 'stream' });
  dir = await mkdtemp(join(tmpdir(), 'msp-stream-'));
  await chmod(dir, 0o711);
});
void after(async () => {
  await receiver?.stop().catch(() => undefined);
  await restored?.stop('immediate').catch(() => undefined);
  if (process.env.KEEP) {
    process.stderr.write(`kept ${dir} ${tc.cluster.options.archiveDir}\n`);
    return;
  }
  await tc.cleanup();
  await rm(dir, { recursive: true, force: true });
});

void describe('streaming WAL (RPO under a second)', () => {
  void it('kill -9 under a steady insert stream: the restore of the latest state loses at most a second of commits', async (t) => {
    await scenario(t, tc, 'msp_receiver', 'latest');
  });

  void it('synchronous mode: a commit returns only once streamed, so kill -9 loses no committed row', async (t) => {
    const sync = await startTestCluster({ databases: ['app'], name: 'sync' });
    try {
      await scenario(t, sync, 'msp_wal_receiver', 'sync', 0, true);
    } finally {
      await restored?.stop('immediate').catch(() => undefined);
      restored = undefined;
      await sync.cleanup();
    }
  });
});

async function scenario(
  t: { diagnostic(m: string): void },
  tc: TestCluster,
  slot: string,
  name: string,
  maxLostRows = 50,
  synchronous = false,
): Promise<void> {
  {
    const archive = tc.cluster.options.archiveDir;
    const repo = createDirectoryRepository(join(dir, 'repo'));
    await tc.cluster.query(
      'CREATE TABLE s (id serial primary key, at timestamptz default clock_timestamp())',
      [],
      'app',
    );
    await takeBaseBackup({
      repository: repo,
      id: `base-${name}`,
      connection: tc.cluster.connectionConfig('admin', 'postgres'),
      dataDir: join(tc.cluster.options.dir, 'data'),
    });
    receiver = await startWalReceiver({
      connection: tc.cluster.connectionConfig('admin', 'postgres'),
      archiveDir: archive,
      slot,
    });
    if (synchronous) {
      // Commits now wait until the receiver (application_name = its slot) has flushed them.
      await tc.cluster.query(`ALTER SYSTEM SET synchronous_standby_names = '"${slot}"'`);
      await tc.cluster.query('SELECT pg_reload_conf()');
      const deadline = Date.now() + 20_000;
      while (
        (await tc.cluster.query<{ s: string }>('SELECT sync_state AS s FROM pg_stat_replication'))[0]?.s !==
        'sync'
      ) {
        if (Date.now() > deadline) assert.fail('the receiver never became the synchronous standby');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // A steady stream of committed inserts (archive_timeout is 60 s: the archive alone would lose them).
    const writer = new pg.Client(tc.cluster.connectionConfig('admin', 'app'));
    writer.on('error', () => undefined);
    await writer.connect();
    let last = 0;
    let lastAt = 0;
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      last = (await writer.query<{ id: number }>('INSERT INTO s DEFAULT VALUES RETURNING id')).rows[0]!.id;
      lastAt = Date.now();
      await new Promise((r) => setTimeout(r, 20));
    }
    const pid = await tc.cluster.pid();
    process.kill(pid!, 'SIGKILL');
    await writer.end().catch(() => undefined);
    await receiver.ended.catch(() => undefined);
    assert.ok(
      (await readdir(archive)).some((n) => n.endsWith('.partial')),
      'a partial segment was streamed',
    );

    const o = tc.cluster.options;
    const clusterDir = join(dir, name);
    restored = createPostgresCluster({
      ...o,
      name,
      dir: clusterDir,
      port: await findFreePort(),
      archiveDir: join(dir, `${name}-archive`),
    });
    const user = await postgresOsUser();
    const owner = user.switchUser ? { uid: user.uid, gid: user.gid } : undefined;
    await mkdir(clusterDir, { recursive: true, mode: 0o711 });
    const m = await restoreBaseBackup({
      repository: repo,
      id: `base-${name}`,
      targetDir: join(clusterDir, 'data'),
      ...(owner ? { owner } : {}),
    });
    await restored.configure();
    await writeRecoveryConfig({
      dataDir: join(clusterDir, 'data'),
      archiveDir: archive,
      target: { kind: 'latest' },
      fromWal: m.startWal,
      ...(owner ? { owner } : {}),
    });
    await restored.start();
    const cluster = restored;
    await waitForRecovery({
      inRecovery: async () => (await cluster.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]!.r,
      isRunning: () => cluster.isRunning(),
      logFile: join(clusterDir, 'run', 'postgres.log'),
      timeoutMs: 60_000,
    });
    const [row] = await cluster.query<{ id: number; at: Date }>(
      'SELECT max(id) AS id, max(at) AS at FROM s',
      [],
      'app',
    );
    const lostMs = lastAt - row!.at.getTime();
    t.diagnostic(
      `last committed ${last}, restored up to ${row!.id}: ${last - row!.id} rows, ${lostMs} ms of writes lost`,
    );
    assert.ok(
      last - row!.id <= maxLostRows && lostMs <= 1000,
      `last committed ${last}, restored up to ${row!.id} (${lostMs} ms of writes lost)`,
    );
  }
}
