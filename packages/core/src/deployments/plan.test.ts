import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planReconcile, type ObservedDeployment } from './plan.js';

const obs = (key: string, o: Partial<ObservedDeployment> = {}): ObservedDeployment => ({
  key,
  specHash: 'h1',
  desiredState: 'running',
  running: true,
  busy: false,
  ...o,
});

test('new, changed, stopped and removed deployments each get their action', () => {
  const plan = planReconcile(
    [
      { key: 'a/dev', specHash: 'h1' },
      { key: 'b/dev', specHash: 'h2' },
      { key: 'c/dev', specHash: 'h1' },
      { key: 'd/dev', specHash: 'h1' },
    ],
    [obs('b/dev'), obs('c/dev', { running: false }), obs('d/dev'), obs('gone/dev')],
  );
  assert.deepEqual(
    plan.map((a) => `${a.kind} ${a.key}`),
    ['deploy a/dev', 'deploy b/dev', 'deploy c/dev', 'stop gone/dev'],
  );
});

test('busy deployments and already stopped ones are left alone', () => {
  const plan = planReconcile(
    [{ key: 'a/dev', specHash: 'h2' }],
    [obs('a/dev', { busy: true }), obs('old/dev', { desiredState: 'stopped', running: false })],
  );
  assert.deepEqual(plan, []);
});

test('a deployment back in the repo after removal is deployed again', () => {
  const plan = planReconcile([{ key: 'a/dev', specHash: 'h1' }], [obs('a/dev', { desiredState: 'stopped' })]);
  assert.equal(plan[0]?.reason, 'back in the platform repo');
});
