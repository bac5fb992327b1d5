import { test } from 'node:test';
import assert from 'node:assert/strict';
import { healthGateVerdict } from './health-gate.js';
import { describeRecord, expandChannels } from './history.js';

const inst = (state: string, restarts = 0, reason?: string) => ({
  id: 'rr/dev#a-1',
  state,
  restarts,
  ...(reason ? { reason } : {}),
});

test('startup: passes when every instance is healthy, waits until the limit, then fails', () => {
  assert.deepEqual(
    healthGateVerdict({ phase: 'startup', instances: [inst('healthy')], elapsedMs: 10, limitMs: 1000 }),
    { kind: 'pass' },
  );
  assert.equal(
    healthGateVerdict({ phase: 'startup', instances: [inst('starting')], elapsedMs: 10, limitMs: 1000 }).kind,
    'wait',
  );
  const late = healthGateVerdict({
    phase: 'startup',
    instances: [inst('starting')],
    elapsedMs: 1000,
    limitMs: 1000,
  });
  assert.equal(late.kind, 'fail');
  assert.match((late as { reason: string }).reason, /startup probe timeout/);
});

test('startup: a crash loop or a process that cannot start fails at once', () => {
  const loop = healthGateVerdict({
    phase: 'startup',
    instances: [inst('restarting', 2, 'exited with code 1')],
    elapsedMs: 1,
    limitMs: 60_000,
  });
  assert.match((loop as { reason: string }).reason, /crash loop.*restarted 2 times/);
  const broken = healthGateVerdict({
    phase: 'startup',
    instances: [inst('precondition_failed', 0, 'ENOENT')],
    elapsedMs: 1,
    limitMs: 60_000,
  });
  assert.match((broken as { reason: string }).reason, /could not start: ENOENT/);
});

test('soak: a crash or failed health checks fail it; a quiet soak passes when its time is up', () => {
  const base = { phase: 'soak' as const, limitMs: 3000 };
  assert.equal(healthGateVerdict({ ...base, instances: [inst('healthy')], elapsedMs: 100 }).kind, 'wait');
  assert.equal(healthGateVerdict({ ...base, instances: [inst('healthy')], elapsedMs: 3000 }).kind, 'pass');
  assert.match(
    (healthGateVerdict({ ...base, instances: [inst('restarting', 1)], elapsedMs: 100 }) as { reason: string })
      .reason,
    /crashed during the soak/,
  );
  assert.match(
    (
      healthGateVerdict({ ...base, instances: [inst('healthy')], elapsedMs: 100, probeFailures: 2 }) as {
        reason: string;
      }
    ).reason,
    /health checks failed during the soak/,
  );
  assert.equal(
    healthGateVerdict({ ...base, instances: [inst('healthy')], elapsedMs: 100, probeFailures: 1 }).kind,
    'wait',
  );
});

test('history lines and notification channels', () => {
  assert.deepEqual(expandChannels(['#alerts-{service}-{env}', '#all'], 'rr', 'prod'), [
    '#alerts-rr-prod',
    '#all',
  ]);
  const line = describeRecord({
    id: 1,
    service: 'rr',
    action: 'promote',
    version: 'v2.0.0',
    fromEnvironment: 'dev',
    toEnvironment: 'prod',
    previousVersion: 'v1.0.0',
    actor: 'admin',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: null,
    outcome: 'succeeded',
    reason: null,
    operationId: null,
  });
  assert.match(line, /promote +v2\.0\.0 +dev → prod \(was v1\.0\.0\) +by admin: succeeded/);
});
