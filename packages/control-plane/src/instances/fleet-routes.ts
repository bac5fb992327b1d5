/** The /fleets API: fleet upgrades in rings (fleet.ts). */
import { z } from 'zod';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { apiRouter, type ApiEnv } from '../api/app.js';
import { idParam, jsonBody, jsonResponse, route, text, typed } from '../api/schemas.js';
import type { Fleet, Fleets } from './fleet.js';
import { fleetReport } from './fleet-report.js';

export const fleetBody = z.strictObject({
  to: text().min(1).max(100),
  env: text().max(63).optional(),
  types: z
    .array(z.enum(['internal', 'trial', 'production']))
    .max(3)
    .optional(),
  filters: z.array(text().min(3).max(200)).max(20).optional(),
  concurrency: z.int().optional(),
  soak: text().max(20).optional(),
  now: z.boolean().optional(),
  nowReason: text().max(500).optional(),
  dryRun: z.boolean().optional(),
});

const fleet = typed<Fleet>('A fleet upgrade');
const empty = z.strictObject({});

export const fleetRoutes = {
  create: route({
    method: 'post',
    path: '/fleets',
    summary: 'Start a fleet upgrade in rings (or plan it: dryRun)',
    request: { body: jsonBody(fleetBody) },
    responses: { 202: jsonResponse('The fleet', typed<{ dryRun: boolean; fleet: Fleet }>('The fleet')) },
  }),
  list: route({
    method: 'get',
    path: '/fleets',
    summary: 'Fleet upgrades, newest first',
    responses: { 200: jsonResponse('Fleets', typed<{ fleets: Fleet[] }>('Fleets')) },
  }),
  show: route({
    method: 'get',
    path: '/fleets/{id}',
    summary: 'A fleet with every instance: ring, from/to, state, operation, why it waits',
    request: { params: idParam },
    responses: { 200: jsonResponse('The fleet', fleet) },
  }),
  report: route({
    method: 'get',
    path: '/fleets/{id}/report',
    summary: 'The tracking report in Markdown',
    request: { params: idParam },
    responses: { 200: jsonResponse('The report', typed<{ markdown: string }>('The report')) },
  }),
  pause: route({
    method: 'post',
    path: '/fleets/{id}/pause',
    summary: 'Pause a fleet: upgrades running finish, no new one starts',
    request: { params: idParam, body: jsonBody(empty) },
    responses: { 200: jsonResponse('The fleet', fleet) },
  }),
  resume: route({
    method: 'post',
    path: '/fleets/{id}/resume',
    summary: 'Resume a paused or stopped fleet (what failed is retried)',
    request: { params: idParam, body: jsonBody(empty) },
    responses: { 200: jsonResponse('The fleet', fleet) },
  }),
};

export function fleetApi(api: OpenAPIHono<ApiEnv>, fleets: Fleets): void {
  const r = fleetRoutes;
  const app = apiRouter();
  app.openapi(r.create, async (c) =>
    c.json(await fleets.create(c.req.valid('json'), c.get('principal').name), 202),
  );
  app.openapi(r.list, async (c) => c.json({ fleets: await fleets.list() }, 200));
  app.openapi(r.show, async (c) => c.json(await fleets.get(c.req.valid('param').id), 200));
  app.openapi(r.report, async (c) =>
    c.json({ markdown: fleetReport(await fleets.get(c.req.valid('param').id)) }, 200),
  );
  app.openapi(r.pause, async (c) =>
    c.json(await fleets.pause(c.req.valid('param').id, c.get('principal').name), 200),
  );
  app.openapi(r.resume, async (c) =>
    c.json(await fleets.resume(c.req.valid('param').id, c.get('principal').name), 200),
  );
  api.route('/', app);
}
