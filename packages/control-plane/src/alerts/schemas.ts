/** The /alerts and /signals routes: requests validated and documented from these definitions. */
import { z } from 'zod';
import { idParam, jsonBody, jsonResponse, route, text, typed } from '../api/schemas.js';
import type { DeliveryRow, IncidentRow, SignalPoint, SilenceRow } from './store.js';

const pattern = (what: string) =>
  text()
    .min(1)
    .max(200)
    .meta({ description: `${what}, or \`*\` for any` });

export const silenceBody = z
  .strictObject({
    policy: pattern('A policy id (`msp alerts policies` lists them)'),
    service: pattern('A service id'),
    environment: pattern('An environment id'),
    reason: text().min(1).max(500),
    /** Either an end (RFC 3339) or a duration such as `2h`. */
    endsAt: text().max(100).optional(),
    duration: text().max(20).optional(),
  })
  .refine((b) => (b.endsAt === undefined) !== (b.duration === undefined), {
    message: 'give exactly one of endsAt (an RFC 3339 time) or duration (such as `2h`)',
  });

export const secretBody = z.strictObject({ value: text().min(16).max(4096) });
export const testBody = z.strictObject({ channel: text().min(1).max(100) });

export interface IncidentView extends IncidentRow {
  deliveries: DeliveryRow[];
}
export interface RuleStateView {
  deployment: string;
  policies: Array<{
    policyId: string;
    state: string;
    value: number | null;
    error: string | null;
    since: string;
  }>;
}

const incident = typed<IncidentRow>('An incident');
const silence = typed<SilenceRow>('A silence');
const flag = z.enum(['true', 'false']).optional();

export const alertRoutes = {
  signals: route({
    method: 'get',
    path: '/signals',
    summary: 'Sampled signals of the last 24 h (newest first), by deployment and signal',
    request: {
      query: z.object({
        deployment: text().max(300).optional(),
        signal: text().max(100).optional(),
        since: text()
          .max(20)
          .optional()
          .meta({ description: 'How far back, such as `15m` (default 1h, at most 24h)' }),
        limit: z.coerce.number().int().min(1).max(50_000).optional(),
      }),
    },
    responses: { 200: jsonResponse('Signals', typed<{ points: SignalPoint[] }>('Signal points')) },
  }),
  incidents: route({
    method: 'get',
    path: '/alerts/incidents',
    summary: 'Incidents: open ones, or all with all=true (newest first)',
    request: { query: z.object({ all: flag, deployment: text().max(300).optional() }) },
    responses: { 200: jsonResponse('Incidents', typed<{ incidents: IncidentRow[] }>('Incidents')) },
  }),
  incident: route({
    method: 'get',
    path: '/alerts/incidents/{id}',
    summary: 'One incident with its notifications',
    request: { params: idParam },
    responses: { 200: jsonResponse('The incident', typed<IncidentView>('An incident and its deliveries')) },
  }),
  ack: route({
    method: 'post',
    path: '/alerts/incidents/{id}/ack',
    summary: 'Acknowledge an incident (someone is on it)',
    request: { params: idParam },
    responses: { 200: jsonResponse('The incident', incident) },
  }),
  rules: route({
    method: 'get',
    path: '/alerts/rules',
    summary: "A deployment's policies and the state of each rule (inactive, pending, firing, nodata, error)",
    request: { query: z.object({ deployment: text().min(1).max(300) }) },
    responses: { 200: jsonResponse('Rule states', typed<RuleStateView>('Rule states')) },
  }),
  deliveries: route({
    method: 'get',
    path: '/alerts/deliveries',
    summary: 'Notification deliveries (newest first): queued, delivered, failed or suppressed, with attempts',
    request: {
      query: z.object({
        status: z.enum(['queued', 'delivered', 'failed', 'suppressed']).optional(),
        incident: text().max(100).optional(),
        limit: z.coerce.number().int().min(1).max(1000).optional(),
      }),
    },
    responses: { 200: jsonResponse('Deliveries', typed<{ deliveries: DeliveryRow[] }>('Deliveries')) },
  }),
  silences: route({
    method: 'get',
    path: '/alerts/silences',
    summary: 'Active silences, or all with all=true',
    request: { query: z.object({ all: flag }) },
    responses: { 200: jsonResponse('Silences', typed<{ silences: SilenceRow[] }>('Silences')) },
  }),
  silence: route({
    method: 'post',
    path: '/alerts/silences',
    summary: 'Silence notifications matching policy, service and environment until a time (at most 30 days)',
    request: { body: jsonBody(silenceBody) },
    responses: { 201: jsonResponse('The silence', silence) },
  }),
  unsilence: route({
    method: 'delete',
    path: '/alerts/silences/{id}',
    summary: 'End a silence now (its end is announced)',
    request: { params: idParam },
    responses: { 200: jsonResponse('The silence', silence) },
  }),
  secret: route({
    method: 'put',
    path: '/alerts/secrets/{id}',
    summary: "Store the HMAC key a webhook channel's `secret` names (write-only)",
    request: { params: idParam, body: jsonBody(secretBody) },
    responses: { 200: jsonResponse('Stored', typed<{ name: string }>('The secret name')) },
  }),
  test: route({
    method: 'post',
    path: '/alerts/test',
    summary: 'Send a test notification to one channel of msp.yaml',
    request: { body: jsonBody(testBody) },
    responses: {
      202: jsonResponse('The queued deliveries', typed<{ deliveries: DeliveryRow[] }>('Deliveries')),
    },
  }),
};
