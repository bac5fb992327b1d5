import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { MSP_VERSION } from './version.js';

const root = new URL('../../../', import.meta.url);
const versionOf = (file: URL) => (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;

test('MSP_VERSION is the version of the repository and of every package (bumped together)', () => {
  assert.match(MSP_VERSION, /^\d+\.\d+\.\d+/);
  assert.equal(versionOf(new URL('package.json', root)), MSP_VERSION);
  for (const pkg of readdirSync(new URL('packages/', root))) {
    assert.equal(versionOf(new URL(`packages/${pkg}/package.json`, root)), MSP_VERSION, pkg);
  }
});
