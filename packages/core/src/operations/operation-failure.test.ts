import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, UnavailableError, classifyError } from '../errors.js';
import { beginStep, completeStep, failStep, finish, newSteps, type Operation } from './operation.js';

const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T00:01:00Z');
function op(): Operation {
  return {
    id: 'op1',
    kind: 'backup',
    deploymentKey: 'app/dev',
    status: 'queued',
    steps: newSteps(['snapshot', 'upload']),
    input: {},
    reason: 'test',
    createdBy: 'tester',
    createdAt: t0.toISOString(),
    attempt: 1,
  };
}

test('a failed step records the error code and whether retrying helps, and finishing keeps them', () => {
  let o = completeStep(beginStep(op(), 'snapshot', t0), 'snapshot', t0);
  o = beginStep(o, 'upload', t0);
  const facts = classifyError(new UnavailableError('The object store did not answer; retry later.'));
  o = failStep(o, 'upload', t1, facts.message, facts);
  assert.equal(o.status, 'failed');
  assert.equal(o.errorCode, 'unavailable');
  assert.equal(o.retryable, true);
  assert.equal(o.steps[1]?.detail, 'The object store did not answer; retry later.');

  const done = finish(o, t1);
  assert.equal(done.status, 'failed');
  assert.equal(done.error, 'The object store did not answer; retry later.');
  assert.equal(done.errorCode, 'unavailable');
  assert.equal(done.retryable, true);
});

test('a step failed with a message only has no code; a succeeded operation has none either', () => {
  const failed = finish(failStep(beginStep(op(), 'snapshot', t0), 'snapshot', t0, 'boom'), t0);
  assert.equal(failed.errorCode, undefined);
  assert.equal(failed.retryable, undefined);

  let o = op();
  for (const s of o.steps) o = completeStep(beginStep(o, s.name, t0), s.name, t0);
  const ok = finish(o, t0);
  assert.equal(ok.status, 'succeeded');
  assert.ok(!('errorCode' in ok) && !('retryable' in ok));
});

test('classifyError: MSP errors say their own facts; connection trouble is retryable; the rest is internal', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  assert.deepEqual(classifyError(refused), {
    message: 'connect ECONNREFUSED 127.0.0.1:5432',
    code: ErrorCode.Unavailable,
    retryable: true,
  });
  const shutdown = Object.assign(new Error('terminating connection due to administrator command'), {
    code: '57P01',
  });
  assert.equal(classifyError(shutdown).retryable, true);
  const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
  assert.equal(classifyError(timeout).code, ErrorCode.Unavailable);

  const bug = classifyError(new TypeError("Cannot read properties of undefined (reading 'x')"));
  assert.equal(bug.code, ErrorCode.Internal);
  assert.equal(bug.retryable, false);
  const uniqueViolation = Object.assign(new Error('duplicate key'), { code: '23505' });
  assert.equal(classifyError(uniqueViolation).retryable, false);
  assert.deepEqual(classifyError('a string'), { message: 'a string', code: 'internal', retryable: false });
});
