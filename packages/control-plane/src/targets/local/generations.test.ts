import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  currentOf,
  noGenerations,
  previousOf,
  servingOf,
  transition,
  type Generation,
  type GenerationEvent,
  type GenerationState,
} from './generations.js';

const gen = (id: string): Generation => ({
  id,
  specHash: 'h',
  release: `v-${id}`,
  instanceIds: [`k#${id}-1`],
});
const run = (events: GenerationEvent[], from: GenerationState = noGenerations) =>
  events.reduce(
    (acc, e) => {
      const next = transition(acc.state, e);
      return {
        state: next.state,
        stops: [...acc.stops, ...next.effects.map((f) => `${f.generation.id}:${f.why}`)],
      };
    },
    { state: from, stops: [] as string[] },
  );

test('a first generation serves at once; there is nothing to soak against', () => {
  const { state, stops } = run([{ type: 'started', generation: gen('a') }, { type: 'settled' }]);
  assert.equal(currentOf(state)?.id, 'a');
  assert.equal(previousOf(state), undefined);
  assert.deepEqual(stops, []);
});

test('a new generation keeps the previous one running until it settles, then the previous one is drained', () => {
  const started = run([
    { type: 'started', generation: gen('a') },
    { type: 'started', generation: gen('b') },
  ]);
  assert.equal(currentOf(started.state)?.id, 'b');
  assert.equal(previousOf(started.state)?.id, 'a');
  assert.deepEqual(started.stops, []);
  const settled = run([{ type: 'settled' }], started.state);
  assert.equal(currentOf(settled.state)?.id, 'b');
  assert.deepEqual(settled.stops, ['a:replaced']);
});

test('a failed soak returns the route to the previous generation and stops the new one', () => {
  const { state, stops } = run([
    { type: 'started', generation: gen('a') },
    { type: 'started', generation: gen('b') },
    { type: 'soak_failed' },
  ]);
  assert.equal(currentOf(state)?.id, 'a');
  assert.equal(previousOf(state), undefined);
  assert.deepEqual(stops, ['b:failed']);
});

test('while switching, the route stays on the previous generation when the new one has no healthy instance', () => {
  const { state } = run([
    { type: 'started', generation: gen('a') },
    { type: 'started', generation: gen('b') },
  ]);
  assert.equal(servingOf(state, (g) => g.id !== 'b')?.id, 'a');
  assert.equal(servingOf(state, () => true)?.id, 'b');
});

test('a generation started over an unfinished switch stops the oldest one, so nothing runs twice', () => {
  const { state, stops } = run([
    { type: 'started', generation: gen('a') },
    { type: 'started', generation: gen('b') },
    { type: 'started', generation: gen('c') },
  ]);
  assert.equal(currentOf(state)?.id, 'c');
  assert.equal(previousOf(state)?.id, 'b');
  assert.deepEqual(stops, ['a:replaced']);
});

test('stopping the workload stops every generation, previous first', () => {
  const { state, stops } = run([
    { type: 'started', generation: gen('a') },
    { type: 'started', generation: gen('b') },
    { type: 'stopped' },
  ]);
  assert.equal(state.kind, 'none');
  assert.deepEqual(stops, ['a:stopped', 'b:stopped']);
});
