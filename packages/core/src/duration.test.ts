import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, formatDuration } from './duration.js';
import { InputError } from './errors.js';

void test('parseDuration reads single and combined units', () => {
  assert.equal(parseDuration('10m'), 600_000);
  assert.equal(parseDuration('45s'), 45_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('1d'), 86_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration(' 1.5s '), 1_500);
});

void test('parseDuration refuses what it cannot read, naming the fix', () => {
  for (const bad of ['', '10', 'm', '10x', '10 m', '-5s', '5s!']) {
    assert.throws(
      () => parseDuration(bad),
      (error: unknown) => {
        assert.ok(error instanceof InputError, `${bad} should be an InputError`);
        assert.match(error.message, /e\.g\./);
        return true;
      },
    );
  }
});

void test('formatDuration is compact', () => {
  assert.equal(formatDuration(250), '250ms');
  assert.equal(formatDuration(45_000), '45s');
  assert.equal(formatDuration(5_400_000), '1h30m');
  assert.equal(formatDuration(parseDuration('1d2h3m4s')), '1d2h3m4s');
});
