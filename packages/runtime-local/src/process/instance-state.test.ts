import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  defaultRestartPolicy,
  initialMachine,
  transition,
  type InstanceEvent,
  type InstanceMachine,
  type Transition,
} from './instance-state.js';

function run(m: InstanceMachine, events: InstanceEvent[]): Transition {
  let t: Transition = { machine: m, effects: [] };
  for (const e of events) t = transition(t.machine, e);
  return t;
}

void test('starting → healthy records the startup latency', () => {
  const t = run(initialMachine(0), [
    { type: 'spawned', at: 100 },
    { type: 'probe_failed', at: 150, error: 'ECONNREFUSED' },
    { type: 'probe_ok', at: 400 },
  ]);
  assert.equal(t.machine.state.kind, 'healthy');
  assert.equal(t.machine.startupLatencyMs, 300);
  assert.equal(t.machine.healthySince, 400);
});

void test('a crash of a healthy process restarts with doubling backoff, capped', () => {
  let m = run(initialMachine(0), [
    { type: 'spawned', at: 0 },
    { type: 'probe_ok', at: 10 },
  ]).machine;
  const delays: number[] = [];
  let at = 20;
  for (let i = 0; i < 8; i++) {
    const crash = transition(m, { type: 'exited', at: at++, code: 1, signal: null });
    assert.equal(crash.machine.state.kind, 'restarting');
    const effect = crash.effects[0];
    assert.ok(effect?.type === 'schedule_restart');
    delays.push(effect.delayMs);
    const back = transition(crash.machine, { type: 'backoff_elapsed', at: at++ });
    assert.deepEqual(back.effects, [{ type: 'spawn' }]);
    m = run(back.machine, [
      { type: 'spawned', at: at++ },
      { type: 'probe_ok', at: at++ },
    ]).machine;
  }
  assert.deepEqual(delays, [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  assert.equal(m.restarts, 8);
});

void test('backoff resets after 60 s healthy', () => {
  let m = run(initialMachine(0), [
    { type: 'spawned', at: 0 },
    { type: 'probe_ok', at: 1 },
  ]).machine;
  m = run(m, [
    { type: 'exited', at: 2, code: 1, signal: null },
    { type: 'backoff_elapsed', at: 300 },
    { type: 'spawned', at: 300 },
    { type: 'probe_ok', at: 301 },
  ]).machine;
  assert.equal(m.nextBackoffMs, 500);
  const t = transition(m, { type: 'exited', at: 301 + 60_000, code: null, signal: 'SIGKILL' });
  assert.deepEqual(t.effects, [{ type: 'schedule_restart', delayMs: 250 }]);
  assert.equal(t.machine.lastError, 'exited on signal SIGKILL');
});

void test('three exits before ever becoming healthy: precondition_failed, no more restarts', () => {
  let t = run(initialMachine(0), [
    { type: 'spawned', at: 0 },
    { type: 'exited', at: 1, code: 1, signal: null },
  ]);
  assert.equal(t.machine.state.kind, 'restarting');
  t = run(t.machine, [
    { type: 'backoff_elapsed', at: 2 },
    { type: 'spawned', at: 2 },
    { type: 'exited', at: 3, code: 1, signal: null },
    { type: 'backoff_elapsed', at: 4 },
    { type: 'spawned', at: 4 },
    { type: 'exited', at: 5, code: 1, signal: null },
  ]);
  assert.equal(t.machine.state.kind, 'precondition_failed');
  assert.deepEqual(t.effects, []);
  assert.match(t.machine.lastError ?? '', /exited with code 1 before becoming healthy, 3 times/);
  // Nothing moves it any more.
  assert.equal(transition(t.machine, { type: 'backoff_elapsed', at: 6 }).machine, t.machine);
});

void test('a spawn error is precondition_failed at once', () => {
  const t = transition(initialMachine(0), { type: 'spawn_failed', at: 1, error: 'command "x" not found' });
  assert.equal(t.machine.state.kind, 'precondition_failed');
  assert.equal(t.machine.restarts, 0);
});

void test('startup deadline kills, and the exit counts as a failed start with the timeout as reason', () => {
  const t = run(initialMachine(0), [
    { type: 'spawned', at: 0 },
    { type: 'startup_timeout', at: 10_000, error: 'startup probe did not pass within 10000 ms' },
  ]);
  assert.equal(t.effects[0]?.type, 'kill');
  const after = transition(t.machine, { type: 'exited', at: 10_001, code: null, signal: 'SIGTERM' });
  assert.equal(after.machine.state.kind, 'restarting');
  assert.equal(after.machine.failedStarts, 1);
  assert.match(after.machine.lastError ?? '', /startup probe/);
});

void test('liveness: failureThreshold consecutive failures kill; a pass in between resets', () => {
  const fail = (at: number): InstanceEvent => ({ type: 'probe_failed', at, error: 'answered 503' });
  let t = run(initialMachine(0), [{ type: 'spawned', at: 0 }, { type: 'probe_ok', at: 1 }, fail(2), fail(3)]);
  assert.equal(t.machine.state.kind, 'unhealthy');
  assert.deepEqual(t.effects, []);
  t = run(t.machine, [{ type: 'probe_ok', at: 4 }, fail(5), fail(6)]);
  assert.deepEqual(t.effects, []);
  t = transition(t.machine, fail(7));
  assert.equal(t.effects[0]?.type, 'kill');
  assert.equal(defaultRestartPolicy.failureThreshold, 3);
  const after = transition(t.machine, { type: 'exited', at: 8, code: 0, signal: null });
  assert.equal(after.machine.state.kind, 'restarting');
  assert.match(after.machine.lastError ?? '', /liveness probe failed 3 times/);
});

void test('stop: terminate a running process; stopped on exit; a pending restart is simply cancelled', () => {
  const healthy = run(initialMachine(0), [
    { type: 'spawned', at: 0 },
    { type: 'probe_ok', at: 1 },
  ]).machine;
  const stopping = transition(healthy, { type: 'stop', at: 2 });
  assert.deepEqual(stopping.effects, [{ type: 'terminate' }]);
  assert.equal(stopping.machine.state.kind, 'stopping');
  assert.equal(
    transition(stopping.machine, { type: 'exited', at: 3, code: 0, signal: null }).machine.state.kind,
    'stopped',
  );

  const restarting = transition(healthy, { type: 'exited', at: 2, code: 1, signal: null }).machine;
  const stopped = transition(restarting, { type: 'stop', at: 3 });
  assert.equal(stopped.machine.state.kind, 'stopped');
  assert.deepEqual(stopped.effects, []);
});
