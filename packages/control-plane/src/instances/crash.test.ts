/**
 * `kill -9` of the control plane between an upgrade's pre-upgrade backup and its migrator, then `msp up`
 * again: the upgrade finishes, the migrator ran once, one pre-upgrade backup. Runs the real `msp` CLI.
 * The migrator is a wrapper that records each start and counts the runs that did migrate; the run the
 * crash interrupts stalls (as a long migration would), and the next control plane must stop it (its pid
 * file) before the resumed step runs the migrator again, so that two never run at once.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { findFreePort, isProcessAlive } from '@msp/runtime-local';
import { eventually, requestVia, uploadBundle } from '../testing/fixture-repo.js';
import { mspBin, mspUpHarness, type MspUpHarness } from '../testing/msp-process.js';
import { createInstanceRepo, sampleProductDir } from './test-support.js';

let msp: MspUpHarness | undefined;
const scratchDirs: string[] = [];
after(async () => {
  await msp?.stopAll();
  for (const dir of scratchDirs) await rm(dir, { recursive: true, force: true });
});

interface Step {
  name: string;
  status: string;
  detail?: string;
}
interface Op {
  id: string;
  status: string;
  attempt: number;
  error?: string;
  steps: Step[];
  log: Array<{ message: string }>;
}

test('kill -9 between the pre-upgrade backup and the migrator: the upgrade finishes, nothing ran twice', async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'msp-migrator-'));
  scratchDirs.push(scratch);
  await chmod(scratch, 0o777); // the migrator runs as the service user
  const counter = join(scratch, 'runs');
  const starts = join(scratch, 'starts');
  const hold = join(scratch, 'hold');
  const wrapper = join(scratch, 'migrator.mjs');
  await writeFile(
    wrapper,
    `import { appendFileSync, existsSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
appendFileSync(${JSON.stringify(starts)}, \`\${process.pid}\\n\`);
if (existsSync(${JSON.stringify(hold)})) {
  rmSync(${JSON.stringify(hold)}, { force: true });
  await new Promise((r) => setTimeout(r, 90_000)); // stalls until the next control plane stops it
}
const status = spawnSync(process.execPath, ['migrate.js'], { stdio: 'inherit' }).status ?? 1;
if (status === 0) appendFileSync(${JSON.stringify(counter)}, \`run by \${process.pid}\\n\`);
process.exit(status);
`,
  );
  await chmod(wrapper, 0o644);
  const repo = await createInstanceRepo([], ['node', wrapper]);
  scratchDirs.push(repo.dir);
  const port = await findFreePort();
  const proxyPort = await findFreePort();
  msp = mspUpHarness({ repo: repo.dir, port, proxyPort });
  const { api } = msp;
  const first = msp.start({ MSP_SOAK_SECONDS: '0.3' });
  const cp = {
    url: `http://127.0.0.1:${port}`,
    adminToken: '',
  };
  await eventually('the control plane to answer', 120_000, async () => {
    cp.adminToken = (await readFile(join(repo.dir, '.msp', 'admin-token'), 'utf8')).trim();
    // Settled first: the service deployments the reconciler starts (the machine may be busy).
    const { deployments } = await api<{ deployments: Array<{ status: string }> }>('/status');
    return deployments.length > 0 && deployments.every((d) => d.status === 'healthy') ? true : undefined;
  });

  const { stageSampleProduct } = (await import(join(sampleProductDir, 'stage.mjs'))) as {
    stageSampleProduct: (v: string, into: string) => string;
  };
  for (const version of ['v1.0.0', 'v1.1.0']) {
    const dir = stageSampleProduct(version, await mkdtemp(join(tmpdir(), `sampleproduct-${version}-`)));
    // A reset connection on a loaded machine is tried again.
    const bundle = await eventually(`the upload of ${version}`, 60_000, () => uploadBundle(cp, dir));
    await api('/releases', { service: 'sampleproduct', version, bundle });
    await api('/releases/publish', { service: 'sampleproduct', version });
  }
  const wait = (id: string, ms = 240_000) =>
    eventually(`operation ${id} to finish`, ms, async () => {
      const o = await api<Op>(`/operations/${id}`);
      return o.status === 'succeeded' || o.status === 'failed' ? o : undefined;
    });
  const created = await api<Op>('/instances', {
    id: 'crashy',
    env: 'prod',
    customer: 'crashy',
    type: 'production',
    version: 'v1.0.0',
  });
  assert.equal((await wait(created.id)).status, 'succeeded');
  const domain = `crashy.${repo.baseDomain}`;
  const note = await requestVia(proxyPort, domain, '/api/notes', {
    method: 'POST',
    body: JSON.stringify({ body: 'written before the crash' }),
  });
  assert.equal(note.status, 201, note.text);
  const migrationsBefore = (await readFile(counter, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean).length;

  const startsBefore = (await readFile(starts, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  await writeFile(hold, '');
  const upgrade = await api<Op>('/instances/prod/crashy/upgrade', { to: 'v1.1.0' });
  const stalled = await eventually('the migrator to start after the backup', 120_000, async () => {
    const o = await api<Op>(`/operations/${upgrade.id}`);
    const step = (n: string) => o.steps.find((s) => s.name === n)?.status;
    const started = (await readFile(starts, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    const pid = started[startsBefore.length];
    return step('pre-upgrade-backup') === 'succeeded' && step('migrate') === 'running' && pid
      ? Number(pid)
      : undefined;
  });
  first.child.kill('SIGKILL');
  await first.exited();

  msp.start({ MSP_SOAK_SECONDS: '0.3' });
  const done = await wait(upgrade.id);
  assert.equal(done.status, 'succeeded', `${done.error}\n${done.log.map((l) => l.message).join('\n')}`);
  assert.ok(done.attempt >= 2, 'resumed by the second control plane');
  assert.ok(done.log.some((l) => /resumed/.test(l.message)));
  const runs = (await readFile(counter, 'utf8')).split('\n').filter(Boolean).length - migrationsBefore;
  assert.equal(
    await isProcessAlive(stalled),
    false,
    'the migrator the crashed control plane left running was stopped by the next one',
  );
  assert.equal(
    runs,
    1,
    `the migrator migrated exactly once; attempt ${done.attempt}, runs:\n${await readFile(counter, 'utf8')}\n` +
      done.log.map((l) => l.message).join('\n'),
  );
  const { backups } = await api<{ backups: Array<{ kind: string; type: string }> }>(
    '/instances/prod/crashy/backups',
  );
  assert.equal(backups.filter((b) => b.kind === 'pre-upgrade' && b.type === 'base').length, 1);
  await eventually('the product to serve v1.1.0 with its data', 60_000, async () => {
    const home = await requestVia(proxyPort, domain, '/');
    const notes = await requestVia(proxyPort, domain, '/api/notes');
    return /v1\.1\.0/.test(home.text) && /written before the crash/.test(notes.text) ? true : undefined;
  });

  // The CLI against this control plane: --json, the <env>/<id> form, bad input exits 2 and changes nothing.
  const cli = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [mspBin, ...args, '--repo', repo.dir], (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
  const listed = await cli('instance', 'list', '--json');
  assert.equal(listed.code, 0, listed.stderr);
  const mine = (JSON.parse(listed.stdout) as Array<{ id: string; version: string }>).find(
    (i) => i.id === 'crashy',
  );
  assert.equal(mine?.version, 'v1.1.0');
  const older = await cli('instance', 'upgrade', 'prod/crashy', '--to', 'v1.0.0');
  assert.equal(older.code, 2, older.stderr);
  assert.match(older.stderr, /older/);
  const unknown = await cli('instance', 'show', 'nobody');
  assert.equal(unknown.code, 2, unknown.stderr);
  const dry = await cli('fleet', 'upgrade', '--to', 'v1.1.0', '--env', 'prod', '--dry-run', '--json');
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /already on v1\.1\.0/);
  const resume = await cli('fleet', 'resume', 'fleet-nope');
  assert.equal(resume.code, 2, resume.stderr);
});
