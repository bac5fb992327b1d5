/** Which failures of the state database are "unavailable" (503, retry) and which stay what they are. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConflictError, UnavailableError, httpStatusOf } from '@msp/core';
import { stateDatabaseError } from './unavailable.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

test('a refused, dropped or crashed connection is a 503 naming the state database; a failed statement is not', () => {
  for (const error of [
    withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
    withCode('terminating connection due to unexpected postmaster exit', '57P02'),
    withCode('the database system is starting up', '57P03'),
    withCode('sorry, too many clients already', '53300'),
    withCode('connection failure', '08006'),
    new Error('Connection terminated unexpectedly'),
    new Error('timeout exceeded when trying to connect'),
  ]) {
    const mapped = stateDatabaseError(error);
    assert.ok(mapped instanceof UnavailableError, error.message);
    assert.equal(httpStatusOf(mapped), 503);
    assert.match(mapped.message, /state database is not answering \(.+\)\. Retry in a few seconds/);
    assert.equal(mapped.cause, error);
  }
  const unique = withCode('duplicate key value violates unique constraint', '23505');
  assert.equal(stateDatabaseError(unique), unique);
  const conflict = new ConflictError('busy');
  assert.equal(stateDatabaseError(conflict), conflict);
  assert.equal(stateDatabaseError('a string'), 'a string');
});
