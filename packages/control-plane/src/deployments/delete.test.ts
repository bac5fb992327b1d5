import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError, PreconditionFailedError } from '@msp/core';
import { deletionRequest } from './delete.js';

const declared = new Set(['releaseregistry/dev']);

test('a declared deployment is deleted only when confirm names it, after a final backup', () => {
  assert.throws(() => deletionRequest('releaseregistry/dev', undefined, declared), PreconditionFailedError);
  assert.throws(() => deletionRequest('releaseregistry/dev', 'releaseregistry/prod', declared), InputError);
  assert.deepEqual(deletionRequest('releaseregistry/dev', 'releaseregistry/dev', declared), {
    finalBackup: true,
  });
});

test('one the repo no longer declares is deleted as asked; an invalid repo counts as declaring it', () => {
  assert.deepEqual(deletionRequest('releaseregistry/old', undefined, declared), {});
  assert.throws(() => deletionRequest('releaseregistry/old', undefined, undefined), /does not validate now/);
});
