/**
 * Live updates by server-sent events: the stream looks at /api/v1/status and /api/v1/operations with the
 * user's token every interval and sends `health` when a deployment's status, release or instances change,
 * `operations` when an operation or one of its steps moves. The page then refreshes just its live parts.
 * With `access` (the Access page asks for it) it also looks at /api/v1/access/requests and sends `access`
 * when a request appears or changes status. It sends `incidents` when an incident opens, is acknowledged or
 * resolves (GET /alerts/incidents), and with `fleets` (the Fleets pages) `fleets` when a fleet or one of its
 * instances changes state. When the token stops being accepted, the stream says
 * `signed-out` and ends.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Operation } from '@msp/core';
import type { StatusView } from '../api/routes.js';
import type { RequestRow } from '../access/store.js';
import type { IncidentRow } from '../alerts/store.js';
import type { Fleet } from '../instances/fleet.js';
import type { UserApi } from './client.js';

function healthOf(s: StatusView): Map<string, string> {
  return new Map(
    s.deployments.map((d) => [
      d.key,
      [
        d.status,
        d.statusDetail,
        d.release,
        d.desiredState,
        ...(d.runtime?.instances ?? []).map((i) => `${i.id}:${i.state}:${i.release ?? ''}`),
      ].join('|'),
    ]),
  );
}

function operationsOf(ops: Operation[]): Map<string, string> {
  return new Map(ops.map((o) => [o.id, [o.status, ...o.steps.map((s) => s.status)].join('|')]));
}

function changed(before: Map<string, string> | undefined, now: Map<string, string>): string[] {
  if (!before) return [];
  const keys = new Set([...before.keys(), ...now.keys()]);
  return [...keys].filter((k) => before.get(k) !== now.get(k));
}

/** Look at one list and send `event` with the ids whose state changed since the last look. */
function watcher<T>(event: string, path: string, list: (body: T) => Array<[string, string]>) {
  let before: Map<string, string> | undefined;
  return async (api: UserApi, send: (event: string, data: string) => Promise<void>) => {
    const r = await api.get<T>(path);
    if (r.status !== 200) return;
    const now = new Map(list(r.body));
    const ids = changed(before, now);
    before = now;
    if (ids.length > 0) await send(event, JSON.stringify({ ids }));
  };
}

export function liveStream(
  c: Context,
  api: UserApi,
  intervalMs: number,
  access = false,
  fleets = false,
): Response {
  return streamSSE(c, async (s) => {
    let open = true;
    s.onAbort(() => {
      open = false;
    });
    let health: Map<string, string> | undefined;
    let ops: Map<string, string> | undefined;
    let requests: Map<string, string> | undefined;
    const incidents = watcher<{ incidents: IncidentRow[] }>('incidents', '/alerts/incidents', (b) =>
      b.incidents.map((i) => [i.id, `${i.status}|${i.ackedAt ?? ''}|${i.value ?? ''}`]),
    );
    const fleetList = watcher<{ fleets: Fleet[] }>('fleets', '/fleets', (b) =>
      b.fleets.map((f) => [f.id, [f.status, ...f.members.map((m) => `${m.key}:${m.state}`)].join('|')]),
    );
    const send = (event: string, data: string) => s.writeSSE({ event, data });
    await s.writeSSE({ event: 'hello', data: '{}', retry: 3000 });
    while (open) {
      try {
        const [status, list] = await Promise.all([
          api.get<StatusView>('/status'),
          api.get<{ operations: Operation[] }>('/operations?limit=30'),
        ]);
        if (status.status === 401 || list.status === 401) {
          await s.writeSSE({ event: 'signed-out', data: '{}' });
          return;
        }
        if (status.status === 200) {
          const now = healthOf(status.body);
          const keys = changed(health, now);
          health = now;
          if (keys.length > 0) await s.writeSSE({ event: 'health', data: JSON.stringify({ keys }) });
        }
        if (list.status === 200) {
          const now = operationsOf(list.body.operations);
          const ids = changed(ops, now);
          ops = now;
          if (ids.length > 0) await s.writeSSE({ event: 'operations', data: JSON.stringify({ ids }) });
        }
        if (access) {
          const r = await api.get<{ requests: RequestRow[] }>('/access/requests');
          if (r.status === 200) {
            const now = new Map(r.body.requests.map((x) => [x.id, x.status]));
            const ids = changed(requests, now);
            requests = now;
            if (ids.length > 0) await s.writeSSE({ event: 'access', data: JSON.stringify({ ids }) });
          }
        }
        await incidents(api, send);
        if (fleets) await fleetList(api, send);
      } catch {
        // The control plane is stopping or its state database is away: say so, and look again later.
        await s.writeSSE({ event: 'unavailable', data: '{}' }).catch(() => undefined);
      }
      await s.sleep(intervalMs);
    }
  });
}
