// The schema pieces every route is read through (stored inputs: operations/inputs.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { text } from './schemas.js';

test('text refuses a NUL byte anywhere and accepts everything else', () => {
  assert.equal(text().safeParse('a\u0000b').success, false);
  assert.equal(text().safeParse('\u0000').success, false);
  assert.equal(text().safeParse('releaseregistry/dev ünïcode').success, true);
});
