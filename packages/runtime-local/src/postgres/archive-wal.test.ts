import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
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
  await mkdir(archive);
});
void after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SEG1 = '000000010000000000000001';

void describe('archive-wal', () => {
  void it('stores the segment compressed with a checksum sidecar, leaving no temporary file', async () => {
    assert.equal(await archiveWal(join(dir, 'seg1'), SEG1, archive), 'archived');
    assert.deepEqual((await readdir(archive)).sort(), [`${SEG1}.gz`, `${SEG1}.gz.json`]);
    const raw = gunzipSync(await readFile(join(archive, `${SEG1}.gz`)));
    assert.deepEqual(raw, await readFile(join(dir, 'seg1')));
    const info = JSON.parse(await readFile(join(archive, `${SEG1}.gz.json`), 'utf8')) as {
      size: number;
      sha256: string;
    };
    assert.equal(info.size, 64 * 1024);
    assert.match(info.sha256, /^[0-9a-f]{64}$/);
  });

  void it('accepts a retry of the same content and refuses to overwrite different content', async () => {
    assert.equal(await archiveWal(join(dir, 'seg1'), SEG1, archive), 'already-archived');
    await assert.rejects(
      archiveWal(join(dir, 'seg1-changed'), SEG1, archive),
      /different content: refusing to overwrite/,
    );
    assert.deepEqual(
      gunzipSync(await readFile(join(archive, `${SEG1}.gz`))),
      await readFile(join(dir, 'seg1')),
    );
  });

  void it('runs as archive_command: exit 0 on success and identical retry, 1 on conflict or failure', () => {
    const run = (source: string, name: string, to = archive): number | null =>
      spawnSync(process.execPath, [script, source, name, to], { cwd: dir, encoding: 'utf8' }).status;
    assert.equal(run('seg1', '000000010000000000000002'), 0); // %p is relative to the data directory
    assert.equal(run('seg1', '000000010000000000000002'), 0);
    assert.equal(run('seg1-changed', '000000010000000000000002'), 1);
    assert.equal(run('missing', '000000010000000000000003'), 1);
    // An archive that cannot be written (full disk, gone): failure, so PostgreSQL keeps the segment.
    assert.equal(run('seg1', '000000010000000000000004', join(dir, 'no-such-dir')), 1);
    assert.equal(spawnSync(process.execPath, [script], { encoding: 'utf8' }).status, 2);
  });
});
