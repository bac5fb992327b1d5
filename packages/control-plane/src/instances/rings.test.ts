/** Pure parts of fleets: maintenance windows in their time zone, and the ring plan's percentages. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignRings, DEFAULT_RINGS } from './fleet.js';
import type { InstanceView } from './service.js';
import { windowState } from './windows.js';

const weekend = [{ days: ['sat', 'sun'], start: '02:00', duration: '4h', timezone: 'Europe/Berlin' }];

test('a weekly window is open inside it (in its time zone) and says when it next opens outside it', () => {
  // Saturday 2026-12-05 02:30 in Berlin is 01:30 UTC (CET, UTC+1).
  assert.deepEqual(windowState(weekend, new Date('2026-12-05T01:30:00Z')), { open: true });
  // Saturday 00:30 UTC is 01:30 in Berlin: closed, opens at 02:00 Berlin = 01:00 UTC.
  const early = windowState(weekend, new Date('2026-12-05T00:30:00Z'));
  assert.equal(early.open, false);
  assert.equal(!early.open && early.nextOpen.toISOString(), '2026-12-05T01:00:00.000Z');
  // Wednesday: next Saturday.
  const midweek = windowState(weekend, new Date('2026-12-02T12:00:00Z'));
  assert.equal(!midweek.open && midweek.nextOpen.toISOString(), '2026-12-05T01:00:00.000Z');
  // A window past midnight: Sunday 23:00 for 4h is still open on Monday 01:00.
  const late = [{ days: ['sun'], start: '23:00', duration: '4h', timezone: 'UTC' }];
  assert.deepEqual(windowState(late, new Date('2026-12-07T01:00:00Z')), { open: true });
  assert.deepEqual(windowState(undefined, new Date()), { open: true });
});

test('rings: internal first, then the seed’s percentages of trials and customers (cumulative, rounded up)', () => {
  const inst = (id: string, type: InstanceView['type']) =>
    ({ key: `instance/prod/${id}`, type }) as InstanceView;
  const all = [
    inst('int-1', 'internal'),
    ...Array.from({ length: 10 }, (_, i) => inst(`t${i}`, 'trial')),
    ...Array.from({ length: 10 }, (_, i) => inst(`c${i}`, 'production')),
  ];
  const plan = [
    { name: 'internal', internal: 100 },
    { name: 'early', trial: 30, production: 10 },
    { name: 'broad', trial: 100, production: 40 },
    { name: 'all', production: 100 },
  ];
  const rings = assignRings(all, plan);
  const count = (ring: number, prefix: string) =>
    [...rings].filter(([k, r]) => r === ring && k.startsWith(`instance/prod/${prefix}`)).length;
  assert.deepEqual([count(0, 'int'), count(0, 't'), count(0, 'c')], [1, 0, 0]);
  assert.deepEqual([count(1, 't'), count(1, 'c')], [3, 1]);
  assert.deepEqual([count(2, 't'), count(2, 'c')], [7, 3]);
  assert.deepEqual([count(3, 't'), count(3, 'c')], [0, 6]);
  // The default plan: internal, trials, production.
  const d = assignRings(all, DEFAULT_RINGS);
  assert.equal(d.get('instance/prod/int-1'), 0);
  assert.equal(d.get('instance/prod/t0'), 1);
  assert.equal(d.get('instance/prod/c9'), 2);
});
