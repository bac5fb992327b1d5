/**
 * Issue 8's acceptance: no source file in control-plane or runtime-local over ~400 lines without a reason
 * written at its top (a line in its first three saying "Over 400 lines: why").
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const LIMIT = 400;

async function sourcesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourcesUnder(path)));
    else if (/\.(ts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

test(`every source file of control-plane and runtime-local over ${LIMIT} lines says why at its top`, async () => {
  const unexplained: string[] = [];
  let checked = 0;
  for (const pkg of ['control-plane', 'runtime-local']) {
    for (const file of await sourcesUnder(join(ROOT, 'packages', pkg, 'src'))) {
      checked++;
      const lines = (await readFile(file, 'utf8')).split('\n');
      const length = lines.at(-1) === '' ? lines.length - 1 : lines.length;
      if (length <= LIMIT) continue;
      if (!lines.slice(0, 3).some((l) => /over 400 lines/i.test(l)))
        unexplained.push(`${relative(ROOT, file)} (${length} lines)`);
    }
  }
  assert.ok(checked > 50, `only ${checked} files found under ${ROOT}packages`);
  assert.deepEqual(unexplained, [], 'add "// Over 400 lines: <why>" as its first line, or split it');
});
