/**
 * The dashboard's rules that need no browser: which role may do what, where an action may send the
 * browser back to, and that a destructive action without its confirmation never reaches the API.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runAction } from './actions.js';
import { ACTIONS, capabilitiesOf } from './capabilities.js';
import type { UserApi } from './client.js';
import { safeBack } from './index.js';
import { chartOf } from './pages/signals.js';
import { instanceSection } from './pages/instance.js';
import { fleetPage } from './pages/fleets.js';
import { accessPage } from './pages/access.js';
import type { Session } from './capabilities.js';

function recordingApi(status = 202): { api: UserApi; calls: string[] } {
  const calls: string[] = [];
  const api: UserApi = {
    get: () => Promise.reject(new Error('no reads here')),
    read: () => Promise.reject(new Error('no reads here')),
    post: <T>(path: string, body?: unknown) => {
      calls.push(`${path} ${JSON.stringify(body)}`);
      return Promise.resolve({ status, body: { id: 'op-1' } as T });
    },
    delete: <T>(path: string) => {
      calls.push(`DELETE ${path}`);
      return Promise.resolve({ status: 200, body: { id: 'sil-1' } as T });
    },
  };
  return { api, calls };
}

describe('dashboard rules', () => {
  test('admin may do everything, a viewer or an unknown role nothing', () => {
    assert.deepEqual(capabilitiesOf('admin'), [...ACTIONS]);
    assert.deepEqual(capabilitiesOf('viewer'), []);
    assert.deepEqual(capabilitiesOf('toString'), []);
    assert.ok(capabilitiesOf('operator').includes('restore'));
    // Access (access/policy.ts, service.ts): an operator may approve and deny where approverRoles names
    // operators; the Access page decides per request (the test below).
    assert.ok(capabilitiesOf('operator').includes('request-access'));
    assert.ok(capabilitiesOf('operator').includes('approve'));
    assert.ok(capabilitiesOf('operator').includes('deny'));
    // Alerts, instances and fleets: every write is an operator's (access/policy.ts roleNeeded).
    for (const a of [
      'ack',
      'silence',
      'unsilence',
      'upgrade',
      'extend',
      'fleet-pause',
      'fleet-resume',
    ] as const) {
      assert.ok(capabilitiesOf('operator').includes(a), a);
    }
  });

  test('an action only ever sends the browser back to a page of this site', () => {
    assert.equal(safeBack('/ui/services/shop'), '/ui/services/shop');
    assert.equal(safeBack('/ui/deployment?key=shop%2Fdev'), '/ui/deployment?key=shop%2Fdev');
    for (const bad of [
      '//evil.example/',
      'https://evil.example/',
      '/\\evil',
      'javascript:alert(1)',
      undefined,
    ]) {
      assert.equal(safeBack(bad), '/', String(bad));
    }
  });

  test('stop, rollback and restore need the confirmed target; the API is not called without it', async () => {
    const { api, calls } = recordingApi();
    for (const [action, fields] of [
      ['stop', { deployment: 'shop/prod' }],
      ['rollback', { service: 'shop', environment: 'prod' }],
      ['restore', { deployment: 'shop/prod', to: '2026-01-01T00:00:00Z' }],
      ['deny', { id: 'r-1', requester: 'alice', target: 'shop/prod', environment: 'prod' }],
      ['revoke', { id: 'r-1', requester: 'alice', target: 'shop/prod', environment: 'prod' }],
      ['unsilence', { id: 'shop/prod' }],
      ['upgrade', { env: 'shop', id: 'prod', to: '2.0' }],
    ] as const) {
      const wrong = await runAction(api, action, { ...fields, confirm: 'shop/dev' });
      assert.equal(wrong.ok, false);
      assert.match(wrong.message, /confirm that you mean shop\/prod/);
    }
    assert.deepEqual(calls, []);
    const done = await runAction(api, 'restore', {
      deployment: 'shop/prod',
      to: '2026-01-01T00:00:00Z',
      into: 'copy',
      confirm: 'shop/prod',
    });
    assert.equal(done.ok, true);
    assert.match(done.message, /operation op-1 queued/);
    assert.match(calls[0] ?? '', /^\/restores .*"into":"copy"/);
  });

  test("the API's refusal comes back as its own message", async () => {
    const api: UserApi = {
      ...recordingApi().api,
      post: <T>() => Promise.resolve({ status: 409, body: { error: { message: 'shop/dev is busy' } } as T }),
    };
    assert.deepEqual(await runAction(api, 'backup', { deployment: 'shop/dev' }), {
      ok: false,
      message: 'shop/dev is busy',
    });
    assert.equal((await runAction(api, 'frobnicate', {})).message, "There is no action 'frobnicate'.");
  });

  test('signal points become one chart per kind: counts summed over instances, ratios the busiest', () => {
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    const p = (sec: number, signal: string, instance: string, value: number) => ({
      at: at(sec),
      deploymentKey: 'shop/dev',
      signal,
      instance,
      value,
    });
    const points = [
      p(10, 'responses_2xx', 'a', 3),
      p(10, 'responses_2xx', 'b', 4),
      p(20, 'responses_5xx', 'a', 1),
      p(10, 'container_cpu', 'a', 0.25),
      p(10, 'container_cpu', 'b', 0.5),
      p(10, 'uptime', '', 1),
    ];
    const t0 = Date.UTC(2026, 0, 1) / 1000;
    assert.deepEqual(chartOf(points, ['responses_2xx', 'responses_4xx', 'responses_5xx'], 'sum'), {
      x: [t0 + 10, t0 + 20],
      series: [
        { label: 'responses_2xx', values: [7, null] },
        { label: 'responses_5xx', values: [null, 1] },
      ],
    });
    assert.deepEqual(chartOf(points, ['container_cpu'], 'max', 100)?.series[0]?.values, [50]);
    assert.equal(chartOf(points, ['db_disk'], 'max'), null);
  });

  test('instance panel and fleet page: actions with the names they confirm for an operator, none for a viewer', async () => {
    const bodies: Record<string, unknown> = {
      '/instances/dev/acme': {
        instance: {
          env: 'dev',
          id: 'acme',
          version: '1.2.0',
          release: '1.2.0',
          type: 'trial',
          channel: 'stable',
          paused: false,
          customer: 'acme',
          ttl: '7d',
          expiresAt: '2026-12-09T00:00:00.000Z',
          runningOperation: null,
        },
      },
      '/fleets/fl-1': {
        id: 'fl-1',
        status: 'running',
        toVersion: '1.3.0',
        request: { to: '1.3.0', concurrency: 2, soakMs: 60_000 },
        members: [
          {
            key: 'dev/acme',
            customer: 'acme',
            type: 'trial',
            ring: 1,
            ringName: 'trials',
            from: '1.2.0',
            to: '1.3.0',
            state: 'running',
            reason: null,
            operationId: 'op-9',
          },
          {
            key: 'dev/int',
            customer: 'us',
            type: 'internal',
            ring: 0,
            ringName: 'internal',
            from: '1.2.0',
            to: '1.3.0',
            state: 'succeeded',
            reason: null,
            operationId: null,
          },
        ],
        stopReason: null,
      },
    };
    const reader: UserApi = {
      ...recordingApi().api,
      get: <T>(path: string) => Promise.resolve({ status: 200, body: bodies[path] as T }),
      read: <T>(path: string) => Promise.resolve(bodies[path] as T),
    };
    const as = (role: string): Session => ({ name: 'x', role, can: new Set(capabilitiesOf(role)) });
    const text = async (h: unknown) => String(await h);
    const op = await text(await instanceSection(reader, as('operator'), 'dev', 'acme', '/back'));
    assert.match(op, /data-confirm="Upgrade instance dev\/acme from 1.2.0 to version \{to\}\?"/);
    assert.match(op, /data-target="dev\/acme@\{to\}"/);
    assert.match(op, /action="\/ui\/act\/extend"/);
    assert.match(op, />acme</);
    assert.doesNotMatch(
      await text(await instanceSection(reader, as('viewer'), 'dev', 'acme', '/b')),
      /<form/,
    );
    const fleet = await text((await fleetPage(reader, as('operator'), 'fl-1')).body);
    assert.ok(fleet.indexOf('Ring 1: internal') < fleet.indexOf('Ring 2: trials'), 'rings in order');
    assert.match(fleet, /action="\/ui\/act\/fleet-pause"/);
    assert.match(fleet, /href="\/ui\/fleets\/fl-1\/report"/);
    assert.doesNotMatch(await text((await fleetPage(reader, as('viewer'), 'fl-1')).body), /<form/);
  });

  test("Access page: approve and deny only where the environment's approverRoles name the viewer's role, never on one's own", async () => {
    const request = (id: string, requester: string, environment: string, approverRoles: string[]) => ({
      id,
      requester,
      target: 'shop',
      environment,
      role: 'operate',
      durationSeconds: 3600,
      reason: 'r',
      breakGlass: false,
      status: 'pending',
      createdAt: new Date().toISOString(),
      decidedBy: null,
      endsAt: null,
      approverRoles,
    });
    const bodies: Record<string, unknown> = {
      '/access/requests': {
        requests: [
          request('rq-ops', 'carol', 'staging', ['operator', 'admin']),
          request('rq-adm', 'carol', 'prod', ['admin']),
          request('rq-own', 'olga', 'staging', ['operator', 'admin']),
        ],
      },
      '/whoami': { name: 'olga', role: 'operator', kind: 'user' },
    };
    const reader: UserApi = {
      ...recordingApi().api,
      read: <T>(path: string) => Promise.resolve(bodies[path] as T),
    };
    const page = async (name: string, role: string) => {
      const session: Session = { name, role, can: new Set(capabilitiesOf(role)) };
      const out = String(await (await accessPage(reader, session)).body);
      // The ids of the requests with an Approve button (each action form carries the request's id).
      return [...out.matchAll(/action="\/ui\/act\/approve"[^]*?name="id" value="([^"]+)"/g)].map((m) => m[1]);
    };
    assert.deepEqual(await page('olga', 'operator'), ['rq-ops']);
    assert.deepEqual(await page('ada', 'admin'), ['rq-ops', 'rq-adm', 'rq-own']);
    assert.deepEqual(await page('vic', 'viewer'), []);
  });
});
