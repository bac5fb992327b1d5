// The server's error comes back as the same error class, so the one map gives the same exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConflictError, InputError, PreconditionFailedError, UnavailableError, exitCodeOf } from '@msp/core';
import { errorFromResponse } from './api-error.js';

test('an error answer is rebuilt from its code: a 412 exits 2 like a local PreconditionFailedError', () => {
  const remote = errorFromResponse(412, 'Precondition Failed', {
    error: { code: 'precondition_failed', message: 'plain/dev declares no database' },
  });
  assert.ok(remote instanceof PreconditionFailedError);
  assert.equal(remote.message, 'plain/dev declares no database');
  assert.equal(exitCodeOf(remote), exitCodeOf(new PreconditionFailedError('local')));
  assert.equal(exitCodeOf(remote), 2);
});

test('details travel with the error; a 409 exits 1', () => {
  const busy = errorFromResponse(409, 'Conflict', {
    error: { code: 'conflict', message: 'busy', details: { operation: { id: 'op-1' } } },
  });
  assert.ok(busy instanceof ConflictError);
  assert.deepEqual(busy.details, { operation: { id: 'op-1' } });
  assert.equal(exitCodeOf(busy), 1);
});

test('an answer without MSP error body is read from its status', () => {
  const tooLarge = errorFromResponse(413, 'Payload Too Large', 'Payload Too Large');
  assert.ok(tooLarge instanceof InputError);
  assert.equal(tooLarge.message, '413 Payload Too Large');
  assert.ok(errorFromResponse(503, 'Service Unavailable', undefined) instanceof UnavailableError);
  assert.equal(exitCodeOf(errorFromResponse(500, 'Internal Server Error', { error: { code: 'weird' } })), 1);
});
