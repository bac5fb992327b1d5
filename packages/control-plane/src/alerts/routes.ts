/** The /alerts and /signals API of the alerts feature (schemas.ts defines them once). */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { InputError, NotFoundError, parseDuration, STANDARD_ALERT_POLICIES } from '@msp/core';
import { apiRouter, type ApiEnv } from '../api/app.js';
import type { StateStore } from '../state/store.js';
import type { AlertingSource } from './config.js';
import { policiesOf } from './evaluator.js';
import { ALERT_SECRET_SCOPE, type Deliverer } from './notify.js';
import { alertRoutes as r } from './schemas.js';
import type { AlertStore } from './store.js';

const DAY_MS = 86_400_000;
const MAX_SILENCE_MS = 30 * DAY_MS;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$/;

export interface AlertRouteDeps {
  store: StateStore;
  alerts: AlertStore;
  deliverer: Deliverer;
  config: AlertingSource;
  /** Runs announcements due now (a silence ended by hand is announced at once). */
  announce: () => Promise<void>;
}

/** Every policy id a silence may name: the catalog's, backup health's, and each deployment's own. */
async function knownPolicies(store: StateStore): Promise<Set<string>> {
  const ids = new Set([
    ...STANDARD_ALERT_POLICIES.map((p) => p.id),
    'backup-base-age',
    'backup-wal-age',
    'backup-wal-stream-lag',
  ]);
  for (const row of await store.listDeployments()) for (const p of policiesOf(row)) ids.add(p.id);
  return ids;
}

export function alertApiRoutes(api: OpenAPIHono<ApiEnv>, deps: AlertRouteDeps): void {
  const { alerts } = deps;
  const routes = apiRouter();
  routes.openapi(r.signals, async (c) => {
    const q = c.req.valid('query');
    const back = q.since ? parseDuration(q.since) : 3_600_000;
    if (back > DAY_MS)
      throw new InputError(`since ${q.since} is past the 24 h signals are kept: give at most 24h.`);
    const points = await alerts.querySignals({
      ...(q.deployment ? { deployment: q.deployment } : {}),
      ...(q.signal ? { signal: q.signal } : {}),
      since: new Date(Date.now() - back),
      limit: q.limit ?? 5000,
    });
    return c.json({ points }, 200);
  });
  routes.openapi(r.incidents, async (c) => {
    const q = c.req.valid('query');
    const incidents = await alerts.listIncidents({
      all: q.all === 'true',
      ...(q.deployment ? { deployment: q.deployment } : {}),
    });
    return c.json({ incidents }, 200);
  });
  routes.openapi(r.incident, async (c) => {
    const { id } = c.req.valid('param');
    const incident = await alerts.getIncident(id);
    if (!incident) throw new NotFoundError(`No incident ${id}; see \`msp alerts list --all\`.`);
    return c.json({ ...incident, deliveries: await alerts.listDeliveries({ incident: id }) }, 200);
  });
  routes.openapi(r.ack, async (c) => {
    const { id } = c.req.valid('param');
    const incident = await alerts.ackIncident(id, c.get('principal').name);
    if (!incident) throw new NotFoundError(`No incident ${id}; see \`msp alerts list --all\`.`);
    return c.json(incident, 200);
  });
  routes.openapi(r.rules, async (c) => {
    const { deployment } = c.req.valid('query');
    await deps.store.requireDeployment(deployment);
    return c.json({ deployment, policies: await alerts.ruleStatesOf(deployment) }, 200);
  });
  routes.openapi(r.deliveries, async (c) => {
    const q = c.req.valid('query');
    const deliveries = await alerts.listDeliveries({
      ...(q.status ? { status: q.status } : {}),
      ...(q.incident ? { incident: q.incident } : {}),
      limit: q.limit ?? 100,
    });
    return c.json({ deliveries }, 200);
  });
  routes.openapi(r.silences, async (c) =>
    c.json({ silences: await alerts.listSilences({ all: c.req.valid('query').all === 'true' }) }, 200),
  );
  routes.openapi(r.silence, async (c) => {
    const body = c.req.valid('json');
    if (body.policy !== '*' && !(await knownPolicies(deps.store)).has(body.policy)) {
      throw new InputError(
        `Unknown policy ${body.policy}: name a policy id such as container-cpu or external-uptime-check (see docs/alerts.md), or * for any.`,
      );
    }
    let endsAt: number;
    if (body.endsAt !== undefined) {
      if (!RFC3339.test(body.endsAt))
        throw new InputError(`endsAt ${body.endsAt} is not an RFC 3339 time such as 2026-12-02T18:00:00Z.`);
      endsAt = Date.parse(body.endsAt);
    } else {
      endsAt = Date.now() + parseDuration(body.duration!);
    }
    if (!(endsAt > Date.now()))
      throw new InputError('The silence would end in the past: give a later end or a positive duration.');
    if (endsAt - Date.now() > MAX_SILENCE_MS)
      throw new InputError(
        'A silence lasts at most 30 days: give an earlier end (silence again when it ends, if you must).',
      );
    const silence = await alerts.createSilence({
      policy: body.policy,
      service: body.service,
      environment: body.environment,
      reason: body.reason,
      createdBy: c.get('principal').name,
      endsAt: new Date(endsAt),
    });
    return c.json(silence, 201);
  });
  routes.openapi(r.unsilence, async (c) => {
    const { id } = c.req.valid('param');
    const silence = await alerts.expireSilence(id);
    if (!silence) throw new NotFoundError(`No silence ${id}; see \`msp alerts silences --all\`.`);
    await deps.announce();
    return c.json((await alerts.getSilence(id)) ?? silence, 200);
  });
  routes.openapi(r.secret, async (c) => {
    const { id } = c.req.valid('param');
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(id))
      throw new InputError(
        `Secret name ${id}: use lowercase letters, digits, - and _ (as msp.yaml's channel \`secret\`).`,
      );
    await deps.store.putSecret(ALERT_SECRET_SCOPE, id, c.req.valid('json').value);
    return c.json({ name: id }, 200);
  });
  routes.openapi(r.test, async (c) => {
    const { channel: name } = c.req.valid('json');
    const config = await deps.config.current();
    const channel = config.channels.find((ch) => ch.name === name);
    if (!channel) {
      const names = config.channels.map((ch) => ch.name).join(', ') || 'none';
      throw new InputError(`No channel ${name} in msp.yaml's alerting.channels (channels: ${names}).`);
    }
    if (
      channel.type === 'webhook' &&
      (await deps.store.getSecret(ALERT_SECRET_SCOPE, channel.secret!)) === undefined
    ) {
      throw new InputError(
        `The HMAC secret ${channel.secret!} of channel ${name} is not in the secret store: set it with \`msp alerts secret set ${channel.secret!}\`.`,
      );
    }
    const deliveries = await deps.deliverer.notify(
      {
        kind: 'test',
        severity: 'WARNING',
        title: `Test notification from MSP to ${name}`,
        text: `Sent by ${c.get('principal').name} with \`msp alerts test ${name}\`.`,
        chatChannels: [],
        page: true,
        links: {},
        at: new Date().toISOString(),
      },
      [channel],
    );
    return c.json({ deliveries }, 202);
  });
  api.route('/', routes);
}
