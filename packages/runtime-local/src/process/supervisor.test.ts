import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { serviceOsUser } from '../postgres/os-user.js';
import { findFreePort } from '../net.js';
import { readLogs, type LogLine } from '../logs/log-reader.js';
import { createSupervisor, type InstanceSpec, type InstanceStatus, type Supervisor } from './supervisor.js';
import {
  isProcessAlive,
  pidFilePath,
  readProcStat,
  reapStaleInstances,
  writePidFile,
  type PidRecord,
} from './pid-files.js';
import { fixture, processUid, tempDir, waitUntil } from './test-support.js';

const secret = randomBytes(16).toString('hex');
const dir = tempDir('supervisor');
let supervisor: Supervisor;

before(() => {
  supervisor = createSupervisor({ logDir: dir.path });
});
after(async () => {
  await supervisor.stopAll({ drainMs: 1000 });
  dir.remove();
});

async function spec(id: string, overrides: Partial<InstanceSpec> = {}): Promise<InstanceSpec> {
  return {
    id,
    deployment: 'fixture/dev',
    release: 'v1.0.0',
    command: [process.execPath, fixture('ok-server.mjs')],
    cwd: dir.path,
    env: { DIAGNOSTICS_SECRET: secret, INSTANCE_NAME: id },
    port: await findFreePort(),
    probe: {
      path: '/-/healthz',
      secret,
      timeoutMs: 1000,
      startupIntervalMs: 200,
      livenessIntervalMs: 200,
      startupDeadlineMs: 5000,
      failureThreshold: 3,
    },
    ...overrides,
  };
}

function stateOf(id: string): InstanceStatus | undefined {
  return supervisor.get(id);
}

function healthy(id: string, restarts = 0): () => InstanceStatus | undefined {
  return () => {
    const s = stateOf(id);
    return s?.state.kind === 'healthy' && s.restarts === restarts ? s : undefined;
  };
}

async function get(port: number, path: string): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  assert.equal(res.status, 200);
  return res.json();
}

void test('starts a process with PORT, probes it healthy, stops it and its pid file', async () => {
  const s = await spec('fixture/dev#1');
  supervisor.start(s);
  const status = await waitUntil('healthy', healthy(s.id));
  assert.ok(status.pid !== undefined && status.pid > 0);
  assert.ok(status.startupLatencyMs !== undefined && status.startupLatencyMs < 5000);
  assert.ok(status.startedAt instanceof Date && status.healthySince instanceof Date);
  assert.deepEqual(await get(s.port, '/whoami').then((b) => (b as { name: string }).name), s.id);
  assert.ok(existsSync(pidFilePath(dir.path, s.id)));
  // Written at once after the spawn, completed with the start time as soon as it is known.
  const started = await readProcStat(status.pid);
  const record = await waitUntil('pid file has the start time', () => {
    const r = JSON.parse(readFileSync(pidFilePath(dir.path, s.id), 'utf8')) as PidRecord;
    return r.startTime !== '' && r;
  });
  assert.equal(record.startTime, started?.startTime);
  assert.equal(record.pid, status.pid);
  assert.equal(record.command, s.command.join(' '));
  assert.throws(() => supervisor.start(s), /already running/);

  const states: string[] = [];
  supervisor.on('state', (e) => {
    if (e.id === s.id) states.push(e.status.state.kind);
  });
  await supervisor.stop(s.id, { drainMs: 2000 });
  assert.deepEqual(states, ['stopping', 'stopped']);
  assert.equal(await isProcessAlive(status.pid), false);
  assert.equal(existsSync(pidFilePath(dir.path, s.id)), false);
  assert.equal(stateOf(s.id), undefined);
});

void test('kill -9: restarted, healthy again, restart counted; its grandchildren die with it', async () => {
  const s = await spec('fixture/dev#kill');
  supervisor.start(s);
  const first = await waitUntil('healthy', healthy(s.id));
  const grandchild = ((await get(s.port, '/spawn-grandchild')) as { pid: number }).pid;
  assert.equal(await isProcessAlive(grandchild), true);
  const killedAt = Date.now();
  process.kill(first.pid ?? 0, 'SIGKILL');
  const second = await waitUntil('healthy after restart', healthy(s.id, 1), 10_000);
  assert.ok(Date.now() - killedAt < 10_000);
  assert.notEqual(second.pid, first.pid);
  assert.match(second.lastError ?? '', /SIGKILL/);
  await waitUntil('grandchild gone', async () => !(await isProcessAlive(grandchild)), 5000);
  await supervisor.stop(s.id, { drainMs: 1000 });
});

void test('stop kills the whole process group, grandchildren included', async () => {
  const s = await spec('fixture/dev#group');
  supervisor.start(s);
  await waitUntil('healthy', healthy(s.id));
  const grandchild = ((await get(s.port, '/spawn-grandchild')) as { pid: number }).pid;
  assert.equal((await readProcStat(grandchild))?.pgrp, stateOf(s.id)?.pid);
  await supervisor.stop(s.id, { drainMs: 1000 });
  await waitUntil('grandchild gone', async () => !(await isProcessAlive(grandchild)), 5000);
});

void test('precondition failed: a missing binary, a file that is not executable, a missing cwd', async () => {
  const cases: [Partial<InstanceSpec>, RegExp][] = [
    [{ command: ['/nonexistent/msp-no-such-binary', '--serve'] }, /not found/],
    [{ command: [fixture('not-executable.sh')] }, /not executable/],
    [{ cwd: '/nonexistent/msp-no-such-dir' }, /working directory .* does not exist/],
  ];
  for (const [i, [overrides, reason]] of cases.entries()) {
    const s = await spec(`fixture/dev#bad${i}`, overrides);
    supervisor.start(s);
    const status = await waitUntil('precondition_failed', () => {
      const st = stateOf(s.id);
      return st?.state.kind === 'precondition_failed' ? st : undefined;
    });
    assert.match(status.lastError ?? '', reason);
    assert.equal(status.restarts, 0);
    await supervisor.stop(s.id);
  }
});

void test('precondition failed: a process that always exits, after 3 tries, with its stderr', async () => {
  const s = await spec('fixture/dev#exits', {
    command: [process.execPath, fixture('crash-after.mjs')],
    env: { DIAGNOSTICS_SECRET: secret, CRASH_AFTER_MS: '0' },
  });
  supervisor.start(s);
  const status = await waitUntil(
    'precondition_failed',
    () => {
      const st = stateOf(s.id);
      return st?.state.kind === 'precondition_failed' ? st : undefined;
    },
    10_000,
  );
  assert.match(status.lastError ?? '', /exited with code 1 before becoming healthy, 3 times in a row/);
  assert.equal(status.restarts, 2);
  assert.ok(status.stderrTail.some((l) => l.includes('DATABASE_URL is not set')));
  await supervisor.stop(s.id);
});

void test('a process that never passes its startup probe: killed at the deadline, precondition failed after 3', async () => {
  const base = await spec('fixture/dev#never');
  const s = {
    ...base,
    command: [process.execPath, fixture('never-healthy.mjs')],
    probe: { ...base.probe, startupIntervalMs: 100, startupDeadlineMs: 700 },
  };
  supervisor.start(s);
  const status = await waitUntil(
    'precondition_failed',
    () => {
      const st = stateOf(s.id);
      return st?.state.kind === 'precondition_failed' ? st : undefined;
    },
    10_000,
  );
  assert.match(
    status.lastError ?? '',
    /startup probe did not pass within 700 ms \(last: GET \/-\/healthz answered 503\)/,
  );
  await supervisor.stop(s.id);
});

void test('liveness failures: killed and restarted, healthy again', async () => {
  const s = await spec('fixture/dev#sick');
  supervisor.start(s);
  const first = await waitUntil('healthy', healthy(s.id));
  const res = await fetch(`http://127.0.0.1:${s.port}/-/make-unhealthy`, { method: 'POST' });
  assert.equal(res.status, 200);
  const second = await waitUntil('restarted after liveness failures', healthy(s.id, 1), 10_000);
  assert.notEqual(second.pid, first.pid);
  assert.match(second.lastError ?? '', /liveness probe failed 3 times in a row/);
  await supervisor.stop(s.id, { drainMs: 1000 });
});

void test('logs: stdout kept with timestamps; the secret never reaches the log', async () => {
  const s = await spec('fixture/dev#logs');
  supervisor.start(s);
  await waitUntil('healthy', healthy(s.id));
  await get(s.port, '/whoami').catch(() => undefined);
  await fetch(`http://127.0.0.1:${s.port}/print-secret`).then((r) => r.text());
  await supervisor.stop(s.id, { drainMs: 1000 });
  const lines: LogLine[] = [];
  for await (const line of readLogs({ logDir: dir.path, deployment: 'fixture/dev' })) {
    if (line.instance === 'fixture_dev_logs') lines.push(line);
  }
  assert.ok(lines.some((l) => l.stream === 'out' && l.text.startsWith('listening on')));
  assert.ok(lines.some((l) => l.stream === 'out' && l.text === 'the secret is [redacted]'));
  assert.ok(lines.some((l) => l.stream === 'msp' && /started pid/.test(l.text)));
  const raw = readFileSync(`${dir.path}/fixture/dev/fixture_dev_logs.log`, 'utf8');
  assert.equal(raw.includes(secret), false);
});

void test('reapStaleInstances kills stale instance groups from their pid files, and spares a recycled pid', async () => {
  const reapDir = tempDir('reap');
  const port = await findFreePort();
  // An instance an earlier control plane left running: detached, with a grandchild.
  const stale = spawn(process.execPath, [fixture('ok-server.mjs')], {
    detached: true,
    stdio: 'ignore',
    env: { PORT: String(port), DIAGNOSTICS_SECRET: secret },
  });
  // An unrelated process whose pid a pid file names with another start time.
  const bystander = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
    detached: true,
    stdio: 'ignore',
  });
  // One left behind by a control plane killed before it learnt the start time: found by its command line.
  const early = [process.execPath, '-e', 'setInterval(() => {}, 1001)'];
  const unfinished = spawn(early[0]!, early.slice(1), { detached: true, stdio: 'ignore' });
  try {
    const stalePid = stale.pid ?? 0;
    const bystanderPid = bystander.pid ?? 0;
    const unfinishedPid = unfinished.pid ?? 0;
    await waitUntil('stale instance listening', () =>
      fetch(`http://127.0.0.1:${port}/whoami`).then((r) => r.ok),
    );
    const grandchild = ((await get(port, '/spawn-grandchild')) as { pid: number }).pid;
    writePidFile(reapDir.path, {
      id: 'fixture/dev#1',
      deployment: 'fixture/dev',
      pid: stalePid,
      startTime: (await readProcStat(stalePid))?.startTime ?? '',
      spawnedAt: new Date().toISOString(),
    });
    writePidFile(reapDir.path, {
      id: 'fixture/dev#2',
      deployment: 'fixture/dev',
      pid: bystanderPid,
      startTime: '1',
      spawnedAt: new Date().toISOString(),
    });
    const noStart = { deployment: 'fixture/dev', startTime: '', spawnedAt: new Date().toISOString() };
    writePidFile(reapDir.path, {
      ...noStart,
      id: 'fixture/dev#3',
      pid: unfinishedPid,
      command: early.join(' '),
    });
    // Without a start time, a live pid running another command is a recycled one: spared.
    writePidFile(reapDir.path, {
      ...noStart,
      id: 'fixture/dev#4',
      pid: bystanderPid,
      command: 'node server.js',
    });
    const reaped = await reapStaleInstances(reapDir.path, { graceMs: 2000 });
    assert.deepEqual(reaped.map((r) => r.id).sort(), ['fixture/dev#1', 'fixture/dev#3']);
    await waitUntil('unfinished group gone', async () => !(await isProcessAlive(unfinishedPid)), 5000);
    await waitUntil(
      'stale group gone',
      async () => !(await isProcessAlive(stalePid)) && !(await isProcessAlive(grandchild)),
      5000,
    );
    assert.equal(await isProcessAlive(bystanderPid), true);
    assert.equal(existsSync(pidFilePath(reapDir.path, 'fixture/dev#1')), false);
    assert.equal(existsSync(pidFilePath(reapDir.path, 'fixture/dev#2')), false);
    assert.equal(existsSync(pidFilePath(reapDir.path, 'fixture/dev#4')), false);
  } finally {
    for (const p of [stale, bystander, unfinished]) {
      if (p.pid === undefined) continue;
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    reapDir.remove();
  }
});

void test('an instance gets HOST=127.0.0.1 and binds only loopback: a connection to another address is refused', async () => {
  const s = await spec('fixture/dev#host');
  supervisor.start(s);
  await waitUntil('healthy', healthy(s.id));
  assert.equal(((await get(s.port, '/whoami')) as { name: string }).name, s.id);
  // 127.0.0.2 is this machine too (the loopback range), but not the address the instance bound.
  await assert.rejects(fetch(`http://127.0.0.2:${s.port}/whoami`), (e: Error) =>
    /ECONNREFUSED/.test(String((e.cause as Error | undefined)?.message ?? e.message)),
  );
  await supervisor.stop(s.id, { drainMs: 100 });
});

void test('an instance runs as the user it is given, not as the supervisor', async (t) => {
  const user = await serviceOsUser();
  if (!user.switchUser) {
    t.skip('not root: instances run as the current user');
    return;
  }
  // The working directory must be one the service user may enter: the fixtures folder.
  const s = await spec('fixture/dev#user', {
    user: { uid: user.uid, gid: user.gid },
    cwd: dirname(fixture('ok-server.mjs')),
  });
  supervisor.start(s);
  const status = await waitUntil('healthy', healthy(s.id));
  const uid = await processUid(status.pid!);
  assert.equal(uid, user.uid, `runs as ${user.name}`);
  assert.notEqual(uid, 0);
  await supervisor.stop(s.id, { drainMs: 100 });
});
