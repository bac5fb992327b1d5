import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serviceSpecSchema } from '@msp/spec';
import {
  INITIAL_MEMORY,
  WAL_SLOT_LAG_WARNING_BYTES,
  aggregate,
  backupHealthPolicies,
  evaluateRule,
  type RuleMemory,
} from '../index.js';

const spec = (withDatabase: boolean) =>
  serviceSpecSchema.parse({
    service: { id: 'releaseregistry', name: 'Release Registry', owners: ['dx'], description: 'Releases.' },
    environments: [
      {
        id: 'prod',
        category: 'internal',
        deploy: { type: 'manual' },
        ...(withDatabase ? { resources: { postgreSQL: { databases: ['releaseregistry'] } } } : {}),
      },
    ],
  });

const policiesOf = (withDatabase: boolean) => {
  const s = spec(withDatabase);
  return backupHealthPolicies(s, s.environments[0]!, { archiveTimeoutSeconds: 60, channels: [] });
};

void test('a database gets the base backup, WAL archive and WAL stream lag policies; no database, none', () => {
  assert.deepEqual(
    policiesOf(true).map((p) => p.id),
    ['backup-base-age', 'backup-wal-age', 'backup-wal-stream-lag'],
  );
  assert.deepEqual(policiesOf(false), []);
});

void test('WAL stream lag fires only once the slot held more than 512 MiB for 5 minutes', () => {
  const lag = policiesOf(true).find((p) => p.id === 'backup-wal-stream-lag')!;
  assert.equal(lag.unit, 'bytes');
  assert.equal(lag.threshold, WAL_SLOT_LAG_WARNING_BYTES);
  const rule = {
    comparison: lag.comparison,
    threshold: lag.threshold,
    durationMs: lag.durationSeconds * 1000,
    keepFiringForMs: 60_000,
  };
  // One sample a minute over the policy's 5-minute window; the worst of the window counts.
  const window: number[] = [];
  let memory: RuleMemory = INITIAL_MEMORY;
  const states: string[] = [];
  const mib = 1024 * 1024;
  const samples = [100, 300, 600, 700, 800, 900, 1000, 1000, 100, 100, 100, 100, 100, 100];
  samples.forEach((value, minute) => {
    window.push(value * mib);
    if (window.length > 5) window.shift();
    memory = evaluateRule(
      rule,
      { value: aggregate(lag.aggregation, window) },
      memory,
      minute * 60_000,
    ).memory;
    states.push(memory.state);
  });
  // Over the threshold from minute 2: pending, firing 5 minutes later; resolved once the window no
  // longer holds a sample above it and keepFiringFor has passed.
  assert.deepEqual(states.slice(0, 8), [
    'inactive',
    'inactive',
    'pending',
    'pending',
    'pending',
    'pending',
    'pending',
    'firing',
  ]);
  assert.equal(states.at(-1), 'inactive');
});
