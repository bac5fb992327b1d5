import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeploymentSpec } from '@msp/core';
import { healthOf } from './health.js';

const spec = (minCount?: number) =>
  ({
    environment: { instances: minCount === undefined ? undefined : { scaling: { minCount } } },
  }) as unknown as DeploymentSpec;

test('healthy needs at least the minimum of healthy instances', () => {
  assert.deepEqual(healthOf(spec(), ['healthy']), { status: 'healthy', detail: null });
  assert.deepEqual(healthOf(spec(), []), { status: 'degraded', detail: '0/1 instances healthy' });
  assert.deepEqual(healthOf(spec(0), []), { status: 'degraded', detail: '0/1 instances healthy' });
  assert.deepEqual(healthOf(spec(3), ['healthy', 'healthy']), {
    status: 'degraded',
    detail: '2/3 instances healthy',
  });
  assert.deepEqual(healthOf(spec(1), ['healthy', 'restarting']), {
    status: 'degraded',
    detail: '1/2 instances healthy',
  });
  assert.equal(healthOf(spec(), ['precondition_failed']).status, 'failed');
});
