import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSuspended, pipelineOf, planDelivery, planPromotion } from './pipeline.js';

const p = pipelineOf({ service: 'releaseregistry', stages: ['dev', 'staging', 'prod'] });
const passedIn = (runs: Record<string, string[]>) => (v: string, env: string) =>
  (runs[env] ?? []).includes(v);

test('a new release goes to the first stage', () => {
  assert.deepEqual(planDelivery(p, 'v1.0.0'), { kind: 'deliver', version: 'v1.0.0', to: 'dev' });
});

test('promotion moves what the previous stage runs to the next stage that lacks it', () => {
  const move = planPromotion(p, {
    current: { dev: 'v2.0.0', staging: 'v1.0.0', prod: 'v1.0.0' },
    passed: passedIn({ dev: ['v1.0.0', 'v2.0.0'], staging: ['v1.0.0'] }),
  });
  assert.deepEqual(move, { kind: 'promote', version: 'v2.0.0', from: 'dev', to: 'staging' });
  const next = planPromotion(p, {
    current: { dev: 'v2.0.0', staging: 'v2.0.0', prod: 'v1.0.0' },
    passed: passedIn({ dev: ['v2.0.0'], staging: ['v2.0.0'] }),
  });
  assert.equal(next.to, 'prod');
  assert.equal(next.from, 'staging');
});

test('a named release must have passed through the previous stage', () => {
  const request = {
    to: 'prod',
    version: 'v1.5.0',
    current: { dev: 'v2.0.0', staging: 'v2.0.0', prod: 'v1.0.0' },
    passed: passedIn({ dev: ['v1.5.0'], staging: ['v2.0.0'] }),
  };
  assert.throws(() => planPromotion(p, request), /v1\.5\.0 has not passed through staging/);
  const ok = planPromotion(p, { ...request, passed: passedIn({ staging: ['v1.5.0'] }) });
  assert.deepEqual(ok, { kind: 'promote', version: 'v1.5.0', from: 'staging', to: 'prod' });
});

test('the first stage is never a promotion target; unknown stages are bad input', () => {
  const base = { current: { dev: 'v1.0.0' }, passed: () => true };
  assert.throws(() => planPromotion(p, { ...base, to: 'dev' }), { code: 'invalid_input' } as object);
  assert.throws(() => planPromotion(p, { ...base, to: 'qa' }), /not a stage/);
});

test('a release that failed its health gate is refused', () => {
  assert.throws(
    () =>
      planPromotion(p, {
        current: { dev: 'v3.0.0', staging: 'v2.0.0' },
        passed: () => true,
        failed: (v) => v === 'v3.0.0',
      }),
    /failed its health gate/,
  );
});

test('a suspended pipeline refuses deliveries and promotions; resume overrides the spec', () => {
  const suspended = pipelineOf({ service: 'rr', stages: ['dev', 'prod'], suspendedInSpec: true });
  assert.equal(isSuspended(suspended), true);
  assert.throws(() => planDelivery(suspended, 'v1.0.0'), /suspended \(its spec says/);
  assert.throws(
    () => planPromotion(suspended, { current: { dev: 'v1.0.0' }, passed: () => true }),
    /suspended.*msp rollout resume rr/,
  );
  const resumed = pipelineOf({
    service: 'rr',
    stages: ['dev', 'prod'],
    suspendedInSpec: true,
    suspendedOverride: false,
  });
  assert.equal(planDelivery(resumed, 'v1.0.0').to, 'dev');
  const paused = pipelineOf({ service: 'rr', stages: ['dev', 'prod'], suspendedOverride: true });
  assert.throws(() => planDelivery(paused, 'v1.0.0'), /msp rollout suspend/);
});

test('nothing to promote is a clear refusal', () => {
  assert.throws(
    () =>
      planPromotion(p, { current: { dev: 'v1.0.0', staging: 'v1.0.0', prod: 'v1.0.0' }, passed: () => true }),
    /already runs/,
  );
});
