import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { archiveWal } from './archive-wal.js';

const script = fileURLToPath(new URL('./archive-wal.js', import.meta.url));
let dir: string;
let archive: string;

void before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'msp-archive-wal-'));
  archive = join(dir, 'archive');
  await writeFile(join(dir, 'seg1'), Buffer.alloc(64 * 1024, 7));
  await writeFile(join(dir, 'seg1-changed'), Buffer.alloc(64 * 1024, 8));
  await (await import('node:fs/promises')).mkdir(archive);
});
void after(async () => {
  await rm(dir, { recursive: true, force: true });
});

void describe('archive-wal', () => {
  void it('copies the segment under its name, leaving no .partial behind', async () => {
    assert.equal(await archiveWal(join(dir, 'seg1'), '000000010000000000000001', archive), 'archived');
    assert.deepEqual(await readdir(archive), ['000000010000000000000001']);
    assert.deepEqual(
      await readFile(join(archive, '000000010000000000000001')),
      await readFile(join(dir, 'seg1')),
    );
  });

  void it('accepts a retry of the same content and refuses to overwrite different content', async () => {
    assert.equal(
      await archiveWal(join(dir, 'seg1'), '000000010000000000000001', archive),
      'already-archived',
    );
    await assert.rejects(
      archiveWal(join(dir, 'seg1-changed'), '000000010000000000000001', archive),
      /different content: refusing to overwrite/,
    );
    assert.deepEqual(
      await readFile(join(archive, '000000010000000000000001')),
      await readFile(join(dir, 'seg1')),
    );
  });

  void it('runs as archive_command: exit 0 on success and identical retry, 1 on conflict', () => {
    const run = (source: string, name: string): number | null =>
      spawnSync(process.execPath, [script, source, name, archive], { cwd: dir, encoding: 'utf8' }).status;
    assert.equal(run('seg1', '000000010000000000000002'), 0); // %p is relative to the data directory
    assert.equal(run('seg1', '000000010000000000000002'), 0);
    assert.equal(run('seg1-changed', '000000010000000000000002'), 1);
    assert.equal(run('missing', '000000010000000000000003'), 1);
    assert.equal(spawnSync(process.execPath, [script], { encoding: 'utf8' }).status, 2);
  });
});
