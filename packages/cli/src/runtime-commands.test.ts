// Bad input to the control plane commands: exit 2 with a message that names the fix, before anything starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMsp } from './testing.js';

test('msp up refuses a bad port and a directory that is not a platform repo', async () => {
  const port = await runMsp(['up', '--port', '99999']);
  assert.equal(port.code, 2);
  assert.match(port.stderr, /--port must be a port number/);
  const dir = await mkdtemp(join(tmpdir(), 'msp-cli-'));
  try {
    const repo = await runMsp(['up', '--repo', dir]);
    assert.equal(repo.code, 2);
    assert.match(repo.stderr, /no msp\.yaml/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('msp logs --since takes a duration or an RFC 3339 time, and says so', async () => {
  const bad = await runMsp(['logs', 'releaseregistry', 'dev', '--since', 'yesterday']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /duration back from now .* or an RFC 3339 time/);
});

test('msp pg connect refuses a session timeout that would round to nothing: credentials always expire', async () => {
  for (const t of ['1ms', '400ms', '499ms', '0', '0s', '25h']) {
    const r = await runMsp(['pg', 'connect', 'releaseregistry', 'prod', '--session-timeout', t, '--print']);
    assert.equal(r.code, 2, t);
    assert.match(
      r.stderr,
      /--session-timeout.*(from 1s to 24h \(credentials always expire\)|Invalid duration)/,
      t,
    );
    assert.doesNotMatch(r.stdout, /no time limit/);
  }
});

test('read commands outside a running control plane say how to start one (exit 1)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'msp-cli-'));
  try {
    for (const args of [
      ['status'],
      ['operations', 'list'],
      ['logs', 'releaseregistry', 'dev', '--since', '2026-01-01T00:00:00Z'],
    ]) {
      const r = await runMsp(args, dir);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /No running control plane found .* start one with `msp up`/);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an unknown command or option is a usage error (exit 2)', async () => {
  assert.equal((await runMsp(['nope'])).code, 2);
  assert.equal((await runMsp(['status', '--nope'])).code, 2);
  const help = await runMsp(['--help']);
  assert.equal(help.code, 0);
  for (const command of [
    'up',
    'status',
    'logs',
    'pg',
    'spec',
    'operations',
    'backup',
    'restore',
    'release',
    'rollout',
  ]) {
    assert.match(help.stdout, new RegExp(`\\n  ${command}\\b`), `msp --help lists ${command}`);
  }
});
