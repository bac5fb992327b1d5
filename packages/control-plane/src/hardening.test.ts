/**
 * What an attempt to break MSP found (issue 9), against one real control plane with the Release Registry
 * and its PostgreSQL: status follows the runtime after a kill -9, volumes are owner-only, a clone has its
 * own database passwords, deleting a declared deployment needs a confirmation and takes a final backup, a
 * re-created deployment archives into a folder of its own, and a restarted control plane never reports
 * "healthy" for a deployment that runs no instance.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, chmod, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { findFreePort, serviceOsUser } from '@msp/runtime-local';
import { createBackupsModule } from './backups/module.js';
import { startControlPlane, type ControlPlane } from './server.js';
import { createLocalRuntime } from './targets/local/index.js';
import { createFixtureRepo, eventually, requestVia, type FixtureRepo } from './testing/fixture-repo.js';
import { localTargetOf } from './testing/local-target.js';
import { mspBin } from './testing/msp-process.js';

const run = promisify(execFile);

describe('hardening (issue 9)', () => {
  let repo: FixtureRepo;
  let cp: ControlPlane;
  let proxyPort: number;
  const key = 'releaseregistry/dev';

  const start = async (reconcile = true) =>
    startControlPlane({
      repoDir: repo.dir,
      port: await findFreePort(),
      createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort }),
      modules: [createBackupsModule({ schedules: false })],
      reconcile,
      log: () => undefined,
    });
  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${cp.url}/api/v1${path}`, {
      ...init,
      headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/json' },
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, unknown> };
  };
  const succeeded = async (id: string) => {
    const op = (await cp.engine.waitFor(id, 180_000))!;
    if (op.status !== 'succeeded') {
      const log = await cp.store.readLog(op.id);
      assert.fail(`${op.kind} ${op.status}: ${op.error}\n${log.map((l) => l.message).join('\n')}`);
    }
    return op;
  };
  const healthy = (k = key) =>
    eventually(`${k} to be healthy`, 90_000, async () =>
      (await cp.store.getDeployment(k))?.status === 'healthy' ? true : undefined,
    );

  before(async () => {
    repo = await createFixtureRepo({ name: 'hardening' });
    await appendFile(
      join(repo.dir, 'services', 'releaseregistry', 'service.yaml'),
      '      volumes:\n        - name: files\n          sizeGB: 1\n',
    );
    proxyPort = await findFreePort();
    cp = await start();
    await healthy();
  });

  after(async () => {
    await cp?.stop();
    if (repo) await rm(repo.dir, { recursive: true, force: true });
  });

  test('#7: after kill -9 of the service the status is healthy again once the instance is back', async () => {
    const before = cp.runtime.status(key)!.instances[0]!;
    process.kill(before.pid!, 'SIGKILL');
    await eventually('the crash to show in the status', 10_000, async () =>
      (await cp.store.listEvents({ deploymentKey: key })).some((e) => e.kind === 'health-degraded')
        ? true
        : undefined,
    );
    await eventually('the status to follow the restarted instance', 15_000, async () => {
      const row = await cp.store.getDeployment(key);
      const now = cp.runtime.status(key)?.instances[0];
      return row?.status === 'healthy' && now?.state === 'healthy' && now.pid !== before.pid
        ? true
        : undefined;
    });
    assert.equal((await cp.store.getDeployment(key))?.statusDetail, null);
  });

  test('#5: volume folders are owner-only, and a volume from before is made owner-only by a deploy', async () => {
    const root = localTargetOf(cp).paths(key).volumes;
    const mode = async (p: string) => ((await stat(p)).mode & 0o777).toString(8);
    assert.equal(await mode(root), '700');
    assert.equal(await mode(join(root, 'files')), '700');
    // A volume as an older MSP left it: world-readable folder and file.
    await chmod(join(root, 'files'), 0o755);
    await writeFile(join(root, 'files', 'upload.txt'), 'customer data', { mode: 0o644 });
    await chmod(join(root, 'files', 'upload.txt'), 0o644);
    const r = await api(`/deployments/${encodeURIComponent(key)}/deploy`, { method: 'POST', body: '{}' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await succeeded(String(r.body.id));
    assert.equal(await mode(join(root, 'files')), '700');
    assert.equal(await mode(join(root, 'files', 'upload.txt')), '600');
  });

  test('#4: instances bind loopback only and run as an unprivileged user who can write only their own folders', async () => {
    const status = cp.runtime.status(key)!;
    const instance = status.instances[0]!;
    // Through the proxy it answers; on another loopback address (not the one it bound) nobody listens.
    const via = await requestVia(proxyPort, new URL(status.urls[0]!).hostname, '/v1/releases');
    assert.equal(via.status, 200, via.text);
    await assert.rejects(fetch(`http://127.0.0.2:${instance.port!}/v1/releases`), (e: Error) =>
      /ECONNREFUSED/.test(String((e.cause as Error | undefined)?.message ?? e.message)),
    );
    const user = await serviceOsUser();
    if (!user.switchUser) return; // not root: instances run as the current user
    const uid = /^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${instance.pid!}/status`, 'utf8'))?.[1];
    assert.equal(Number(uid), user.uid, `the instance runs as ${user.name}`);
    const as = (script: string) =>
      run('su', ['-s', '/bin/sh', user.name, '-c', script]).then(
        (r) => r.stdout.trim(),
        () => 'denied',
      );
    const volume = join(localTargetOf(cp).paths(key).volumes, 'files');
    assert.equal(await as(`touch ${join(volume, 'written')} && echo wrote`), 'wrote');
    assert.equal(await as(`cat ${join(cp.dataDir.root, 'admin-token')}`), 'denied');
    assert.equal(await as(`touch ${join(cp.dataDir.root, 'planted')} 2>/dev/null && echo wrote`), 'denied');
  });

  test("#8: a clone restored from a backup has its own database passwords, not the original's", async () => {
    const backup = await api('/backups', { method: 'POST', body: JSON.stringify({ deployment: key }) });
    const backupId = String((await succeeded(String(backup.body.id))).result?.backupId);
    const restore = await api('/restores', {
      method: 'POST',
      body: JSON.stringify({ deployment: key, backup: backupId, type: 'full', into: 'pwclone' }),
    });
    assert.equal(restore.status, 202, JSON.stringify(restore.body));
    await succeeded(String(restore.body.id));
    const clone = 'releaseregistry/pwclone';
    const cluster = (await localTargetOf(cp).cluster(clone))!;
    const signIn = async (password: string) => {
      const client = new pg.Client({ ...cluster.connectionConfig('workload', 'releaseregistry'), password });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return 'signed in';
      } catch (error) {
        return (error as { code?: string }).code ?? String(error);
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    const original = (await cp.store.getSecret(key, 'pg-workload'))!;
    const own = (await cp.store.getSecret(clone, 'pg-workload'))!;
    assert.notEqual(own, original);
    assert.equal(await signIn(original), '28P01', "the original's password must not sign in to the clone");
    assert.equal(await signIn(own), 'signed in');
    // The clone serves with its own credentials, and its restored volume is owner-only.
    assert.equal((await cp.store.getDeployment(clone))?.status, 'healthy');
    const volume = join(localTargetOf(cp).paths(clone).volumes, 'files');
    assert.equal(((await stat(volume)).mode & 0o777).toString(8), '700');
    const stop = await api(`/deployments/${encodeURIComponent(clone)}/stop`, { method: 'POST', body: '{}' });
    await succeeded(String(stop.body.id));
  });

  test('#3: deleting a deployment the repo declares is refused without a confirmation naming it', async () => {
    const path = `/deployments/${encodeURIComponent(key)}/delete`;
    const refused = await api(path, { method: 'POST', body: '{}' });
    assert.equal(refused.status, 412, JSON.stringify(refused.body));
    assert.match(
      String((refused.body.error as { message: string }).message),
      /still declared in the platform repo.*Remove it from the platform repo.*"confirm": "releaseregistry\/dev"/s,
    );
    const wrong = await api(path, {
      method: 'POST',
      body: JSON.stringify({ confirm: 'releaseregistry/prod' }),
    });
    assert.equal(wrong.status, 400, JSON.stringify(wrong.body));
    // The CLI says the same and exits 2, deleting nothing.
    const cli = await run(process.execPath, [mspBin, 'delete', 'releaseregistry', 'dev'], {
      env: { ...process.env, MSP_URL: cp.url, MSP_TOKEN: cp.adminToken },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(
      cli.stderr,
      /still declared in the platform repo.*msp delete \.\.\. --confirm releaseregistry\/dev/s,
    );
    assert.equal((await cp.store.getDeployment(key))?.status, 'healthy');
    assert.deepEqual(await cp.store.listOperations({ unfinished: true, deploymentKey: key, limit: 10 }), []);
  });

  let finalBackup = '';
  test('#3: with the confirmation, a final backup is taken before the data goes', async () => {
    const path = `/deployments/${encodeURIComponent(key)}/delete`;
    const r = await api(path, { method: 'POST', body: JSON.stringify({ confirm: key }) });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const op = await succeeded(String(r.body.id));
    finalBackup = String(op.result?.finalBackupId);
    assert.match(finalBackup, /-final-base$/);
    assert.equal((await api(`/backups/${encodeURIComponent(finalBackup)}`)).body.status, 'succeeded');
    assert.equal(await cp.store.getDeployment(key), undefined);
  });

  test('#3: the re-created deployment archives into a folder of its own; the old backup keeps its WAL', async () => {
    const r = await api('/reconcile', { method: 'POST', body: '{}' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await healthy();
    // Archiving works: a backup waits for its WAL in the archive and verifies it.
    const b = await api('/backups', { method: 'POST', body: JSON.stringify({ deployment: key }) });
    const op = (await cp.engine.waitFor(String(b.body.id), 60_000))!;
    assert.equal(op.status, 'succeeded', op.error ?? op.status);
    const archiver = (await cp.runtime.databases.archiver(key))!;
    assert.equal(archiver.failedCount, 0, `archiving failed: ${archiver.lastFailedWal}`);
    const archives = (await readdir(join(repo.dir, '.msp', 'archive'))).filter((d) =>
      d.startsWith('releaseregistry--dev'),
    );
    assert.equal(archives.length, 2, archives.join(', '));
    // The final backup of the deleted one still verifies, WAL included.
    const v = await api(`/backups/${encodeURIComponent(finalBackup)}/verify`, { method: 'POST', body: '{}' });
    assert.equal(v.status, 202, JSON.stringify(v.body));
    await succeeded(String(v.body.id));
    const verified = await api(`/backups/${encodeURIComponent(finalBackup)}`);
    assert.equal(verified.body.verifyOk, true, JSON.stringify(verified.body));
    // Once the old incarnation's last backup is deleted, its archive goes too; the current one stays.
    const current = String(op.result?.backupId);
    const all = (await api(`/backups?deployment=${encodeURIComponent(key)}`)).body.backups as {
      id: string;
      type: string;
    }[];
    const older = all.filter((x) => x.type === 'base' && x.id !== current).map((x) => x.id);
    assert.ok(older.includes(finalBackup), older.join(', '));
    for (const id of older) {
      const gone = await api(`/backups/${encodeURIComponent(id)}`, { method: 'DELETE' });
      assert.equal(gone.status, 202, JSON.stringify(gone.body));
      await succeeded(String(gone.body.id));
      const stays = (await readdir(join(repo.dir, '.msp', 'archive'))).filter((d) =>
        d.startsWith('releaseregistry--dev'),
      );
      // Until the last of them goes, the old archive stays for the others.
      assert.equal(stays.length, id === older.at(-1) ? 1 : 2, `after deleting ${id}: ${stays.join(', ')}`);
    }
    const left = (await readdir(join(repo.dir, '.msp', 'archive'))).filter((d) =>
      d.startsWith('releaseregistry--dev'),
    );
    assert.equal(left.length, 1, left.join(', '));
    assert.ok(left.includes(archives.find((d) => d !== 'releaseregistry--dev') ?? ''), left.join(', '));
  });

  test('#3: "healthy" needs the minimum of running instances, after a control plane restart too', async () => {
    await cp.stop();
    // Restarted without reconciling: nothing deploys the registry, so nothing runs it.
    cp = await start(false);
    const row = await cp.store.getDeployment(key);
    assert.equal(cp.runtime.status(key)?.instances.length ?? 0, 0);
    assert.notEqual(row?.status, 'healthy', `${row?.status}: ${row?.statusDetail}`);
    assert.match(String(row?.statusDetail), /^0\/1 instances/);
    // Deployed again, it is healthy again.
    const r = await api(`/deployments/${encodeURIComponent(key)}/deploy`, { method: 'POST', body: '{}' });
    await succeeded(String(r.body.id));
    assert.equal((await cp.store.getDeployment(key))?.status, 'healthy');
  });
});
