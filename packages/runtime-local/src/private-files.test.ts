import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createArtifactStore } from './artifacts/artifact-store.js';
import { createDirectoryRepository, restoreVolume, snapshotVolume } from './backup/index.js';
import { createLogWriter } from './logs/log-writer.js';
import { writePidFile } from './process/pid-files.js';

const temps: string[] = [];
async function temp(name: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `msp-modes-${name}-`));
  await chmod(d, 0o711); // like the data dir: traversable, not listable
  temps.push(d);
  return d;
}
after(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

async function modeOf(path: string): Promise<string> {
  return ((await stat(path)).mode & 0o777).toString(8);
}

/** Every entry under `root` (and root), as `relative path: mode`. */
async function modesUnder(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = { '.': await modeOf(root) };
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink()) continue;
      out[p] = await modeOf(join(root, p));
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk('');
  return out;
}

test('release bundles and extracted code are owner-only, whatever modes the source had', async () => {
  const root = await temp('artifacts');
  const src = await temp('src');
  await chmod(src, 0o755);
  await mkdir(join(src, 'dist'), { mode: 0o755 });
  await writeFile(join(src, 'dist', 'main.js'), 'export {}\n', { mode: 0o644 });
  await writeFile(join(src, 'start.sh'), '#!/bin/sh\n', { mode: 0o755 });
  await chmod(join(src, 'dist'), 0o755);
  await chmod(join(src, 'start.sh'), 0o755);
  const store = createArtifactStore({ root });
  const packed = await store.pack(src);
  assert.equal(await modeOf(packed.path), '600', 'the stored bundle');
  assert.equal(await modeOf(join(root, 'artifacts')), '700');
  assert.equal(await modeOf(join(root, 'artifacts', 'sha256')), '700');
  assert.equal(await modeOf(root), '711', 'the data dir keeps its mode');
  const dir = await store.extract(packed.digest);
  assert.equal(await modeOf(join(root, 'releases')), '700');
  assert.deepEqual(await modesUnder(dir), {
    '.': '700',
    dist: '700',
    'dist/main.js': '600',
    'start.sh': '700',
  });
});

test('log files and their folder are owner-only, also a log file an older MSP left 0644', async () => {
  const logs = await temp('logs');
  const file = join(logs, 'shop', 'dev', 'shop_dev_1.log');
  const writer = createLogWriter({ file, maxBytes: 200, maxFiles: 3 });
  for (let i = 0; i < 20; i++) writer.line('out', `line ${i} ${'x'.repeat(20)}`);
  writer.close();
  assert.equal(await modeOf(join(logs, 'shop', 'dev')), '700');
  const names = (await readdir(join(logs, 'shop', 'dev'))).sort();
  assert.deepEqual(names, ['shop_dev_1.log', 'shop_dev_1.log.1', 'shop_dev_1.log.2'], 'rotated');
  for (const name of names) assert.equal(await modeOf(join(logs, 'shop', 'dev', name)), '600', name);

  const old = join(logs, 'old', 'a.log');
  await mkdir(join(logs, 'old'), { mode: 0o755 });
  await writeFile(old, 'before\n', { mode: 0o644 });
  await chmod(old, 0o644);
  createLogWriter({ file: old }).close();
  assert.equal(await modeOf(old), '600');
  assert.equal(await modeOf(join(logs, 'old')), '700');

  writePidFile(logs, {
    id: 'shop/dev#1',
    deployment: 'shop/dev',
    pid: process.pid,
    startTime: '0',
    spawnedAt: new Date().toISOString(),
  });
  const pidFile = (await readdir(logs)).find((n) => n.endsWith('.pid'));
  assert.ok(pidFile);
  assert.equal(await modeOf(join(logs, pidFile)), '600');
});

test('a volume created or restored by MSP is owner-only', async () => {
  const base = await temp('volumes');
  const repository = createDirectoryRepository(join(base, 'repo'));
  const volume = join(base, 'volumes', 'shop--dev', 'uploads');
  await snapshotVolume({ repository, id: 'v0', volume: 'uploads', dir: volume });
  assert.equal(await modeOf(volume), '700', 'created by the snapshot');
  await chmod(volume, 0o755); // as an older MSP left it
  await writeFile(join(volume, 'customer.csv'), 'a,b\n');
  await snapshotVolume({ repository, id: 'v1', volume: 'uploads', dir: volume });
  await rm(volume, { recursive: true });
  await restoreVolume({ repository, id: 'v1', dir: volume });
  assert.equal(await modeOf(volume), '700', 'restored');
});
