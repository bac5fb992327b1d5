import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { checkPostgresRuns, hydrateSymlinks, postgresBinaries } from './binaries.js';

let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'msp-pg-bin-'));
  await mkdir(join(root, 'native', 'lib'), { recursive: true });
  await writeFile(join(root, 'native', 'lib', 'libpq.so.5.17'), 'library');
  await writeFile(
    join(root, 'native', 'pg-symlinks.json'),
    JSON.stringify([
      { source: 'native/lib/libpq.so.5.17', target: 'native/lib/libpq.so' },
      { source: 'native/lib/libpq.so.5.17', target: 'native/lib/libpq.so.5' },
    ]),
  );
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

void describe('postgres binaries', () => {
  void it('finds initdb, pg_ctl and postgres of PostgreSQL 17, and the version the binary reports', async () => {
    const { bin, version } = postgresBinaries();
    for (const name of ['initdb', 'pg_ctl', 'postgres']) assert.ok(existsSync(join(bin, name)), name);
    assert.match(version, /^17\.\d+$/);
    // Taken from the package's version without running anything; the binary says the same.
    const { stdout } = await promisify(execFile)(join(bin, 'postgres'), ['--version']);
    assert.equal(stdout.trim(), `postgres (PostgreSQL) ${version}`);
    await checkPostgresRuns();
  });

  void it('recreates missing and dangling library symlinks (install scripts skipped), idempotently', async () => {
    const lib = join(root, 'native', 'lib');
    await symlink('libpq.so.4.gone', join(lib, 'libpq.so.5')); // dangling
    hydrateSymlinks(root);
    hydrateSymlinks(root);
    assert.equal(readlinkSync(join(lib, 'libpq.so')), 'libpq.so.5.17');
    assert.equal(readlinkSync(join(lib, 'libpq.so.5')), 'libpq.so.5.17');
    assert.equal(await readFile(join(lib, 'libpq.so.5'), 'utf8'), 'library');
  });
});
