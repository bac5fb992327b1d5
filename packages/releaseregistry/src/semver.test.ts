import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, formatVersion, parseVersion } from './semver.js';
import type { SemanticVersion } from './semver.js';

function v(text: string): SemanticVersion {
  const parsed = parseVersion(text);
  assert.ok(parsed, `${text} should parse`);
  return parsed;
}

void describe('semver', () => {
  void it('parses vMAJOR.MINOR.PATCH with an optional prerelease', () => {
    assert.deepEqual(parseVersion('v5.3.2'), { major: 5, minor: 3, patch: 2, prerelease: null });
    assert.deepEqual(parseVersion('v2.0.0-rc.1'), { major: 2, minor: 0, patch: 0, prerelease: 'rc.1' });
    assert.equal(formatVersion(v('v2.0.0-rc.1')), 'v2.0.0-rc.1');
  });

  void it('rejects what is not a version', () => {
    for (const bad of [
      '5.3.2',
      'v5.3',
      'v05.3.2',
      'v5.3.2-',
      'v5.3.2+build',
      'v1.2.3-rc..1',
      'V1.2.3',
      'v99999999999.0.0',
      'v2147483648.0.0',
      `v1.0.0-${'x'.repeat(65)}`,
      'v1.0.0-1.2.3.4.5.6.7.8.9',
    ]) {
      assert.equal(parseVersion(bad), undefined, bad);
    }
  });

  void it('orders numerically, not as text: v1.10.0 is newer than v1.9.0', () => {
    assert.ok(compareVersions(v('v1.10.0'), v('v1.9.0')) > 0);
    assert.ok(compareVersions(v('v1.9.10'), v('v1.9.9')) > 0);
    assert.ok(compareVersions(v('v10.0.0'), v('v9.99.99')) > 0);
    assert.equal(compareVersions(v('v1.2.3'), v('v1.2.3')), 0);
  });

  void it('puts a prerelease below its release and compares prerelease identifiers per semver', () => {
    const sorted = [
      'v2.0.0',
      'v2.0.0-rc.1',
      'v2.0.0-alpha',
      'v2.0.0-rc.10',
      'v2.0.0-alpha.1',
      'v2.0.0-rc.2',
      'v1.9.9',
    ]
      .map(v)
      .sort(compareVersions)
      .map(formatVersion);
    assert.deepEqual(sorted, [
      'v1.9.9',
      'v2.0.0-alpha',
      'v2.0.0-alpha.1',
      'v2.0.0-rc.1',
      'v2.0.0-rc.2',
      'v2.0.0-rc.10',
      'v2.0.0',
    ]);
    // Numeric identifiers sort below alphanumeric ones.
    assert.ok(compareVersions(v('v1.0.0-1'), v('v1.0.0-a')) < 0);
  });
});
