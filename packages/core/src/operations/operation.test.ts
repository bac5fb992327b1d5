import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  beginStep,
  completeStep,
  failStep,
  finish,
  newSteps,
  nextStep,
  type Operation,
} from './operation.js';

const t0 = new Date('2026-01-01T00:00:00Z');
function op(): Operation {
  return {
    id: 'op1',
    kind: 'deploy',
    deploymentKey: 'releaseregistry/dev',
    status: 'queued',
    steps: newSteps(['secrets', 'database', 'volumes', 'instances', 'route', 'record']),
    input: {},
    reason: 'test',
    createdBy: 'tester',
    createdAt: t0.toISOString(),
    attempt: 0,
  };
}

test('an operation resumes at the step that was running when it died', () => {
  let o = op();
  o = completeStep(beginStep(o, 'secrets', t0), 'secrets', t0);
  o = beginStep(o, 'database', t0);
  // the control plane dies here; a new one reads the operation back
  assert.equal(nextStep(o)?.name, 'database');
  o = completeStep(o, 'database', t0, 'cluster on port 5500');
  assert.equal(nextStep(o)?.name, 'volumes');
  assert.equal(o.steps[1]?.detail, 'cluster on port 5500');
});

test('finishing marks success only when no step failed', () => {
  let o = op();
  for (const s of o.steps) o = completeStep(beginStep(o, s.name, t0), s.name, t0);
  assert.equal(nextStep(o), undefined);
  assert.equal(finish(o, t0).status, 'succeeded');

  const failed = failStep(beginStep(op(), 'secrets', t0), 'secrets', t0, 'boom');
  assert.equal(failed.status, 'failed');
  assert.equal(finish(failed, t0).error, 'boom');
});

test('an unknown step is a programming error', () => {
  assert.throws(() => beginStep(op(), 'nope', t0), /no step named nope/);
});
