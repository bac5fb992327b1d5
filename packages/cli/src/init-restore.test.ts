// `msp init` outside a platform repo, and `msp restore --into` with a name too long: exit 2, and the
// message says what is wrong (no msp.yaml; the length and its limit) and how to fix it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMsp } from './testing.js';

test('msp init in a folder without msp.yaml exits 2, names the fix, and writes nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'msp-init-'));
  try {
    const here = await runMsp(['init', 'billing'], dir);
    assert.equal(here.code, 2);
    assert.match(
      here.stderr,
      /is not a platform repo: it has no msp\.yaml\. Run `msp init` at the root of a platform repo, or point --repo at one/,
    );
    const named = await runMsp(['init', 'billing', '--repo', dir]);
    assert.equal(named.code, 2);
    assert.match(named.stderr, /no msp\.yaml/);
    assert.equal(existsSync(join(dir, 'services')), false, 'nothing was scaffolded');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('msp restore --into a name that is too long says so and gives the limit; bad characters are told apart', async () => {
  const long = await runMsp(['restore', 'releaseregistry', 'dev', '--latest', '--into', 'a'.repeat(42)]);
  assert.equal(long.code, 2);
  assert.match(long.stderr, /--into: "a{42}" is 42 characters long; a clone name is at most 41/);
  assert.doesNotMatch(long.stderr, /lowercase|a-z/);
  const huge = await runMsp(['restore', 'releaseregistry', 'dev', '--latest', '--into', 'b'.repeat(5000)]);
  assert.equal(huge.code, 2);
  assert.match(huge.stderr, /is 5000 characters long; a clone name is at most 41/);
  assert.ok(huge.stderr.length < 400, 'the name is not echoed whole');
  const bad = await runMsp(['restore', 'releaseregistry', 'dev', '--latest', '--into', 'Inspect_1']);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /"Inspect_1" is not a deployment name: start with a lowercase letter and use only a-z, 0-9 and -/,
  );
});
