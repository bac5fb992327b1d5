import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { InputError } from '@msp/core';
import { inputOf } from './inputs.js';

const schema = z.object({ backupId: z.string().min(1) });

test('a stored input that matches its kind is read as typed data', () => {
  assert.deepEqual(inputOf({ id: 'op1', kind: 'verify-backup', input: { backupId: 'b1' } }, schema), {
    backupId: 'b1',
  });
});

test('a stored input that does not match fails with an error naming the operation and the field', () => {
  assert.throws(
    () => inputOf({ id: 'op2', kind: 'verify-backup', input: { backupId: 42 } }, schema),
    (e: unknown) =>
      e instanceof InputError && /op2 \(verify-backup\)/.test(e.message) && /backupId/.test(e.message),
  );
});
