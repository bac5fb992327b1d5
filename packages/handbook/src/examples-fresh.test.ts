/**
 * The committed example handbook (examples/platform/docs) must be what the generator makes of the
 * example repo today. When this fails, regenerate and commit the result.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateHandbook } from './index.js';
import { EXAMPLES_PLATFORM, loadRepo } from './test-support.js';

export const EXAMPLE_DATE = new Date('2026-01-01T00:00:00Z');
export const EXAMPLE_REVISION = 'example';
const REFRESH =
  'npx msp operations generate-handbook-pages --repo examples/platform --date 2026-01-01T00:00:00Z --revision example';

void test('the committed example handbook pages are fresh', async () => {
  const repo = await loadRepo(EXAMPLES_PLATFORM);
  const files = await generateHandbook({ repo, date: EXAMPLE_DATE, revision: EXAMPLE_REVISION });
  const docs = join(EXAMPLES_PLATFORM, 'docs');
  for (const file of files) {
    const committed = await readFile(join(docs, file.path)).catch(() => undefined);
    const expected = Buffer.from(file.content);
    assert.ok(
      committed !== undefined && committed.equals(expected),
      `examples/platform/docs/${file.path} is ${committed === undefined ? 'missing' : 'stale'}; refresh the example docs with: ${REFRESH}`,
    );
  }
  const extra = (await readdir(docs)).filter((name) => !files.some((f) => f.path === name));
  assert.deepEqual(
    extra,
    [],
    `examples/platform/docs has files the generator no longer makes; delete them and run: ${REFRESH}`,
  );
});
