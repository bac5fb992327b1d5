#!/usr/bin/env node
// Creates the example releases of the Release Registry against a running `msp up` of this repo:
// v0.1.1 and v0.2.0 built from packages/releaseregistry (each a staged copy of its package files with its
// own version in package.json, so two different artifacts), then the broken release v0.3.0 from
// examples/broken-release, whose health check fails: dev keeps serving v0.2.0.
//
//   npx msp up --repo examples/platform        # in one terminal
//   node examples/platform/releases.mjs         # in another
//   npx msp rollout promote releaseregistry     # v0.2.0 to prod
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const repo = fileURLToPath(new URL('.', import.meta.url));
const msp = join(root, 'packages', 'cli', 'bin', 'msp.js');
const registryDir = join(root, 'packages', 'releaseregistry');

function stage(version) {
  const dir = mkdtempSync(join(tmpdir(), `releaseregistry-${version}-`));
  const pkg = JSON.parse(readFileSync(join(registryDir, 'package.json'), 'utf8'));
  for (const f of pkg.files ?? []) cpSync(join(registryDir, f), join(dir, f), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...pkg, version: version.slice(1) }, null, 2));
  return dir;
}

function create(version, from) {
  console.log(`\n$ msp release create releaseregistry --version ${version} --from ${from}`);
  const r = spawnSync(
    process.execPath,
    [msp, 'release', 'create', 'releaseregistry', '--version', version, '--from', from, '--repo', repo],
    { stdio: 'inherit' },
  );
  return r.status ?? 1;
}

for (const version of ['v0.1.1', 'v0.2.0']) {
  const dir = stage(version);
  try {
    const code = create(version, dir);
    if (code !== 0) process.exit(code);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const broken = create('v0.3.0', join(root, 'examples', 'broken-release'));
console.log(
  broken === 1
    ? '\nv0.3.0 failed its health gate as expected; dev still serves v0.2.0 (`msp rollout status releaseregistry`).'
    : `\nunexpected: the broken release exited ${broken}`,
);
