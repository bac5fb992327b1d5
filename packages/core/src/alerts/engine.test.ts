import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  aggregate,
  evaluateRule,
  INITIAL_MEMORY,
  scaledMs,
  type RuleMemory,
  type RuleSpec,
} from './engine.js';

const rule: RuleSpec = { comparison: 'above', threshold: 0.9, durationMs: 10_000, keepFiringForMs: 5_000 };

/** Runs a series of values one second apart from t=0; returns the states and transitions. */
function run(values: Array<number | null | Error>, spec = rule) {
  let memory: RuleMemory = INITIAL_MEMORY;
  const states: string[] = [];
  const transitions: string[] = [];
  values.forEach((v, i) => {
    const input = v instanceof Error ? { error: v.message } : { value: v };
    const next = evaluateRule(spec, input, memory, i * 1000);
    memory = next.memory;
    states.push(memory.state);
    if (next.transition) transitions.push(`${i}:${next.transition}`);
  });
  return { states, transitions, memory };
}

void describe('alert rule engine', () => {
  void it('goes pending, fires only after the duration held, resolves after keepFiringFor', () => {
    const high = Array<number>(12).fill(0.95);
    const low = Array<number>(7).fill(0.1);
    const { transitions, states } = run([0.1, ...high, ...low]);
    // Clear from t=13 on: keepFiringFor (5 s) counts from that first evaluation that saw it clear.
    assert.deepEqual(transitions, ['1:pending', '11:fired', '18:resolved']);
    assert.equal(states[10], 'pending');
    assert.equal(states.at(-1), 'inactive');
  });

  void it('a condition that stops before the duration never fires', () => {
    const { transitions } = run([0.95, 0.95, 0.95, 0.1, 0.95]);
    assert.deepEqual(transitions, ['0:pending', '4:pending']);
  });

  void it('fires at once with duration 0, and flapping faster than keepFiringFor stays one firing', () => {
    const spec = { ...rule, durationMs: 0 };
    const { transitions } = run([0.95, 0.1, 0.95, 0.1, 0.1, 0.95, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], spec);
    assert.deepEqual(transitions, ['0:fired', '11:resolved']);
  });

  void it('one late evaluation after a gap longer than keepFiringFor does not resolve what fires', () => {
    const spec = { ...rule, durationMs: 0 };
    const at = (memory: RuleMemory, value: number, now: number) => evaluateRule(spec, { value }, memory, now);
    let step = at(INITIAL_MEMORY, 0.95, 0);
    assert.equal(step.transition, 'fired');
    step = at(step.memory, 0.95, 1_000);
    // The evaluator ran 8 s late (a loaded machine): one look at a clear condition is not 5 s of it.
    step = at(step.memory, 0.1, 9_000);
    assert.equal(step.memory.state, 'firing');
    assert.equal(step.transition, undefined);
    // It held again: the clear count starts over from the next evaluation that sees it clear.
    step = at(step.memory, 0.95, 9_500);
    assert.equal(step.memory.clearedSince, undefined);
    step = at(step.memory, 0.1, 10_000);
    step = at(step.memory, 0.1, 14_999);
    assert.equal(step.memory.state, 'firing', 'clear for less than keepFiringFor');
    step = at(step.memory, 0.1, 15_000);
    assert.equal(step.transition, 'resolved');
    assert.equal(step.memory.state, 'inactive');
  });

  void it('NoData and Error are states of their own; neither resolves what fires', () => {
    assert.deepEqual(run([null, null, 0.1]).transitions, ['0:nodata', '2:recovered']);
    assert.deepEqual(run([new Error('no answer'), 0.1]).transitions, ['0:error', '1:recovered']);
    const spec = { ...rule, durationMs: 0 };
    const firing = run([0.95, null, new Error('x'), null], spec);
    assert.deepEqual(firing.transitions, ['0:fired']);
    assert.equal(firing.memory.state, 'firing');
  });

  void it('compares below as well (uptime: passing fraction < 0.4)', () => {
    const spec: RuleSpec = { comparison: 'below', threshold: 0.4, durationMs: 0, keepFiringForMs: 0 };
    assert.deepEqual(run([1, 0.3, 0.5], spec).transitions, ['1:fired', '2:resolved']);
  });

  void it('aggregates windows as the catalog says, and scales time', () => {
    assert.equal(aggregate('max', [1, 3, 2]), 3);
    assert.equal(aggregate('mean', [1, 3]), 2);
    assert.equal(aggregate('sum', [1, 3]), 4);
    assert.equal(aggregate('count', [0, 1, 2]), 2);
    assert.equal(aggregate('fraction', [1, 0, 0, 1]), 0.5);
    assert.equal(aggregate('p99', [...Array(100).keys()]), 98);
    assert.equal(aggregate('p99', [5]), 5);
    assert.equal(aggregate('max', []), null);
    assert.equal(scaledMs(180, 0.01), 1800);
  });
});
