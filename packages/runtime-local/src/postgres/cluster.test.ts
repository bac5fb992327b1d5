import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { InputError, UnavailableError } from '@msp/core';
import { currentPlatform } from '../platform.js';
import { processUid } from '../process/test-support.js';
import { startTestCluster, type TestCluster } from '../testing.js';
import { createPostgresCluster, MIN_CREDENTIAL_VALIDITY_SECONDS } from './cluster.js';
import { POSTGRES_OS_USER } from './os-user.js';

// One real cluster for this whole file (initdb costs seconds on a shared machine).
let tc: TestCluster;

void before(async () => {
  tc = await startTestCluster({ databases: ['shop', 'audit'] });
});
void after(async () => {
  await tc?.cleanup();
});

async function connect(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function withClient<T>(config: pg.ClientConfig, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(config);
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function count(client: pg.Client, sql: string): Promise<number> {
  return (await client.query<{ n: number }>(sql)).rows[0]?.n ?? -1;
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

void describe('roles and grants', () => {
  void it('lets the workload create tables that the operator can read but not write', async () => {
    await withClient(tc.cluster.connectionConfig('workload', 'shop'), async (app) => {
      await app.query('CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL)');
      await app.query("INSERT INTO orders (item) VALUES ('book'), ('pen')");
      await app.query('CREATE SCHEMA billing');
      await app.query('CREATE TABLE billing.invoices (id int)');
    });
    await withClient(tc.cluster.connectionConfig('operator', 'shop'), async (op) => {
      const rows = await op.query<{ item: string }>('SELECT item FROM orders ORDER BY id');
      assert.deepEqual(
        rows.rows.map((r) => r.item),
        ['book', 'pen'],
      );
      assert.equal(await count(op, 'SELECT count(*)::int AS n FROM billing.invoices'), 0);
      await assert.rejects(op.query("INSERT INTO orders (item) VALUES ('x')"), /permission denied/);
      await assert.rejects(op.query('CREATE TABLE nope (id int)'), /permission denied/);
    });
  });

  void it('gives every spec database to the workload role and CONNECT to the operator only', async () => {
    const owners = await tc.cluster.query<{ datname: string; owner: string }>(
      `SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname IN ('shop', 'audit') ORDER BY 1`,
    );
    assert.deepEqual(owners, [
      { datname: 'audit', owner: 'app' },
      { datname: 'shop', owner: 'app' },
    ]);
    await withClient(tc.cluster.connectionConfig('operator', 'audit'), async (op) => {
      assert.equal((await op.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u, 'operator');
    });
    const superusers = await tc.cluster.query<{ rolname: string }>(
      'SELECT rolname FROM pg_roles WHERE rolsuper ORDER BY 1',
    );
    assert.deepEqual(
      superusers.map((r) => r.rolname),
      ['msp_admin'],
    );
  });

  void it('refuses a wrong password over TCP (no trust)', async () => {
    await assert.rejects(
      withClient({ ...tc.cluster.connectionConfig('workload', 'shop'), password: 'not-the-password' }, () =>
        Promise.resolve(0),
      ),
      /password authentication failed/,
    );
    const hba = await readFile(`${tc.cluster.options.dir}/data/pg_hba.conf`, 'utf8');
    assert.doesNotMatch(hba, /\btrust\b/);
  });
});

void describe('temporary credentials', () => {
  void it('read credentials can SELECT and get permission denied on writes', async () => {
    const cred = await tc.cluster.mintTemporaryCredentials({ access: 'read', validFor: 300 });
    assert.match(cred.user, /^tmp_[0-9a-f]{16}$/);
    assert.ok(cred.validUntil && cred.validUntil.getTime() > Date.now());
    const config = {
      ...tc.cluster.connectionConfig('operator', 'shop'),
      user: cred.user,
      password: cred.password,
    };
    await withClient(config, async (c) => {
      assert.equal(await count(c, 'SELECT count(*)::int AS n FROM orders'), 2);
      await assert.rejects(c.query("INSERT INTO orders (item) VALUES ('x')"), /permission denied/);
    });
    assert.equal(await tc.cluster.revokeCredentials(cred.user), true);
    await assert.rejects(
      withClient(config, () => Promise.resolve(0)),
      /password authentication failed/,
    );
  });

  void it('write credentials act as the workload role', async () => {
    const cred = await tc.cluster.mintTemporaryCredentials({ access: 'write', validFor: 300 });
    assert.ok(cred.validUntil.getTime() > Date.now());
    const config = {
      ...tc.cluster.connectionConfig('workload', 'shop'),
      user: cred.user,
      password: cred.password,
    };
    await withClient(config, async (c) => {
      await c.query("INSERT INTO orders (item) VALUES ('lamp')");
      await c.query('CREATE TABLE notes (body text)');
    });
    const owner = await tc.cluster.query<{ owner: string }>(
      "SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'notes'",
      [],
      'shop',
    );
    assert.deepEqual(owner, [{ owner: 'app' }]);
    await withClient(tc.cluster.connectionConfig('operator', 'shop'), async (op) => {
      assert.equal(await count(op, 'SELECT count(*)::int AS n FROM notes'), 0);
    });
    assert.equal(await tc.cluster.revokeCredentials(cred.user), true);
    assert.equal(await tc.cluster.revokeCredentials(cred.user), false);
  });

  void it('refuses a validity that would round to no limit, and never mints a role without VALID UNTIL', async () => {
    const temporaryRoles = async () =>
      (
        await tc.cluster.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'tmp\\_%'",
        )
      )[0]?.n;
    const before = await temporaryRoles();
    // 1 ms, 400 ms, 499 ms round to 0 s in the CLI; 0 used to mean "no limit".
    for (const validFor of [0, 0.001, 0.4, 0.499, 0.999, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(
        tc.cluster.mintTemporaryCredentials({ access: 'read', validFor }),
        (error: unknown) => {
          assert.ok(error instanceof InputError, `validFor ${validFor}: ${String(error)}`);
          assert.match(error.message, /at least 1 s/);
          return true;
        },
      );
    }
    assert.equal(await temporaryRoles(), before, 'nothing was minted');
    const cred = await tc.cluster.mintTemporaryCredentials({
      access: 'write',
      validFor: MIN_CREDENTIAL_VALIDITY_SECONDS,
    });
    const [role] = await tc.cluster.query<{ until: Date | null }>(
      'SELECT rolvaliduntil AS until FROM pg_roles WHERE rolname = $1',
      [cred.user],
    );
    assert.ok(role?.until, 'VALID UNTIL is set');
    assert.equal(role.until.getTime(), cred.validUntil.getTime());
    const unlimited = await tc.cluster.query(
      "SELECT rolname FROM pg_roles WHERE rolname LIKE 'tmp\\_%' AND rolvaliduntil IS NULL",
    );
    assert.deepEqual(unlimited, []);
    assert.equal(await tc.cluster.revokeCredentials(cred.user), true);
  });

  void it('expire: login is refused after validUntil, and revoking ends open sessions', async () => {
    const cred = await tc.cluster.mintTemporaryCredentials({ access: 'read', validFor: 2 });
    const config = {
      ...tc.cluster.connectionConfig('operator', 'shop'),
      user: cred.user,
      password: cred.password,
    };
    const open = await connect(config); // logged in while still valid
    await waitFor('the temporary credential to expire', async () => {
      try {
        await withClient(config, () => Promise.resolve(0));
        return false;
      } catch (error) {
        assert.match((error as Error).message, /password authentication failed/);
        return true;
      }
    });
    assert.ok(Date.now() >= (cred.validUntil?.getTime() ?? 0) - 1000, 'refused only once it expired');
    assert.ok((await tc.cluster.revokeExpiredCredentials()) >= 1);
    const left = await tc.cluster.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [cred.user]);
    assert.equal(left.length, 0);
    await assert.rejects(open.query('SELECT 1'));
    await open.end().catch(() => undefined);
  });
});

void describe('WAL archiving', () => {
  void it('archives a segment after pg_switch_wal()', async () => {
    const archiveDir = tc.cluster.options.archiveDir;
    await tc.cluster.query('CREATE TABLE IF NOT EXISTS wal_probe (x int)');
    await tc.cluster.query('INSERT INTO wal_probe VALUES (1)');
    const [row] = await tc.cluster.query<{ walfile: string }>(
      'SELECT pg_walfile_name(pg_switch_wal()) AS walfile',
    );
    const walfile = row?.walfile ?? assert.fail('no WAL file name');
    // Archived compressed, with a checksum sidecar (see archive-wal.ts).
    await waitFor(`${walfile} in ${archiveDir}`, async () =>
      (await readdir(archiveDir)).includes(`${walfile}.gz`),
    );
    const s = await stat(`${archiveDir}/${walfile}.gz`);
    assert.ok(s.size > 0 && s.size < 16 * 1024 * 1024);
    assert.deepEqual(
      (await readdir(archiveDir)).filter((f) => f.endsWith('.partial')),
      [],
    );
    const [settings] = await tc.cluster.query<{
      wal_level: string;
      archive_mode: string;
      archive_timeout: string;
    }>(
      `SELECT current_setting('wal_level') AS wal_level, current_setting('archive_mode') AS archive_mode,
              current_setting('archive_timeout') AS archive_timeout`,
    );
    assert.deepEqual(settings, { wal_level: 'replica', archive_mode: 'on', archive_timeout: '1min' });
  });
});

void describe('process and crash safety', () => {
  void it('runs as msp-postgres when MSP runs as root, else as the current user', async () => {
    const pid = await tc.cluster.pid();
    assert.ok(pid);
    const uid = await processUid(pid);
    if (process.getuid?.() === 0) {
      assert.notEqual(uid, 0, 'postgres must not run as root');
      const user = await currentPlatform().lookupUser(POSTGRES_OS_USER);
      assert.ok(user, `${POSTGRES_OS_USER} exists`);
      assert.equal(uid, user.uid);
    } else {
      assert.equal(uid, process.getuid?.());
    }
    const data = await stat(`${tc.cluster.options.dir}/data`);
    assert.equal(data.uid, uid);
    assert.equal(data.mode & 0o777, 0o700);
  });

  void it('ensure() is idempotent, also when called concurrently and from two cluster objects', async () => {
    const pid = await tc.cluster.pid();
    const twin = createPostgresCluster(tc.cluster.options);
    await Promise.all([tc.cluster.ensure(), tc.cluster.ensure(), twin.ensure()]);
    assert.equal(await tc.cluster.pid(), pid);
    assert.equal(await twin.pid(), pid);
  });

  void it('comes back after kill -9 of the postmaster, data intact', async () => {
    const pid = await tc.cluster.pid();
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    await waitFor('the postmaster to die', async () => !(await tc.cluster.isRunning()));
    await tc.cluster.ensure();
    const newPid = await tc.cluster.pid();
    assert.ok(newPid && newPid !== pid);
    await withClient(tc.cluster.connectionConfig('operator', 'shop'), async (op) => {
      assert.equal(await count(op, 'SELECT count(*)::int AS n FROM orders'), 3);
    });
  });

  void it('reports a port in use as UnavailableError naming the port', async () => {
    await tc.cluster.stop();
    assert.equal(await tc.cluster.isRunning(), false);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(tc.cluster.options.port, '127.0.0.1', r));
    try {
      await assert.rejects(tc.cluster.ensure(), (error: unknown) => {
        assert.ok(error instanceof UnavailableError);
        assert.match(error.message, new RegExp(`port ${tc.cluster.options.port}\\b`));
        return true;
      });
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
    await tc.cluster.ensure();
    assert.equal(await tc.cluster.isRunning(), true);
  });

  void it('reloads for archive_timeout, restarts for max_connections', async () => {
    const pid = await tc.cluster.pid();
    const tighter = createPostgresCluster({ ...tc.cluster.options, archiveTimeoutSeconds: 30 });
    await tighter.ensure();
    assert.equal(await tighter.pid(), pid, 'no restart for a reloadable setting');
    await waitFor('archive_timeout = 30s', async () => {
      const [row] = await tc.cluster.query<{ v: string }>("SELECT current_setting('archive_timeout') AS v");
      return row?.v === '30s';
    });
    const bigger = createPostgresCluster({
      ...tc.cluster.options,
      archiveTimeoutSeconds: 30,
      maxConnections: 60,
    });
    await bigger.ensure();
    assert.notEqual(await bigger.pid(), pid, 'max_connections needs a restart');
    const [row] = await tc.cluster.query<{ v: string }>("SELECT current_setting('max_connections') AS v");
    assert.equal(row?.v, '60');
    await tc.cluster.ensure(); // back to the file's own settings
  });

  void it('keeps passwords out of the server log', async () => {
    const log = await readFile(`${tc.cluster.options.dir}/run/postgres.log`, 'utf8');
    for (const password of Object.values(tc.cluster.options.passwords)) {
      assert.equal(log.includes(password), false);
    }
  });
});
