// The schema pieces every route and every stored operation input are read through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PreconditionFailedError } from '@msp/core';
import { backupInputs } from '../backups/schemas.js';
import { moveInput } from '../rollouts/schemas.js';
import { readInput, text } from './schemas.js';

test('text refuses a NUL byte anywhere and accepts everything else', () => {
  assert.equal(text().safeParse('a\u0000b').success, false);
  assert.equal(text().safeParse('\u0000').success, false);
  assert.equal(text().safeParse('releaseregistry/dev ünïcode').success, true);
});

test('a stored input is validated against its kind, naming the field', () => {
  const op = (input: unknown) => ({ id: 'op-1', kind: 'restore', input });
  const ok = readInput(backupInputs.restore, op({ target: { kind: 'latest' }, type: 'full', inPlace: true }));
  assert.deepEqual(ok.target, { kind: 'latest' });
  assert.throws(
    () => readInput(backupInputs.restore, op({ target: { kind: 'time' }, type: 'full' })),
    (e: unknown) => e instanceof PreconditionFailedError && /op-1 \(restore\).*target\.time/.test(e.message),
  );
  assert.equal(readInput(backupInputs.backup, { id: 'b', kind: 'backup', input: {} }).kind, 'on-demand');
  assert.throws(
    () => readInput(moveInput, { id: 'm', kind: 'deliver', input: { service: 'x' } }),
    /m \(deliver\)/,
  );
});
