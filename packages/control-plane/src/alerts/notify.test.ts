import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import type { AlertChannelConfig } from '@msp/spec';
import { bodyFor, routeNotification, signBody, type Notification } from './notify.js';

const channels: AlertChannelConfig[] = [
  { name: 'chat', type: 'slack', url: 'https://chat.example/hook' },
  { name: 'audit', type: 'webhook', url: 'https://audit.example/msp', secret: 'k' },
  { name: 'pager', type: 'pager', url: 'https://pager.example/v2/enqueue' },
  { name: 'prod-chat', type: 'slack', url: 'https://chat.example/prod', environments: ['prod'] },
];

const base: Notification = {
  kind: 'fired',
  severity: 'WARNING',
  title: '[WARNING] Database - Connections on api/dev',
  text: 'database backends / maxConnections: 0.950 (threshold: above 0.900).',
  service: 'api',
  environment: 'dev',
  deploymentKey: 'api/dev',
  incidentId: 'inc-1',
  policyId: 'cloudsql-connections',
  value: 0.95,
  threshold: 0.9,
  chatChannels: ['#alerts-api-dev'],
  page: false,
  links: { handbook: 'https://docs.example/api.md#alert-policies' },
  at: '2026-12-02T00:00:00.000Z',
};

void describe('notification routing and bodies (REFERENCE §2)', () => {
  it('WARNING goes to the chat channels of its environment, never to the pager', () => {
    assert.deepEqual(
      routeNotification(base, channels).map((c) => c.name),
      ['chat', 'audit'],
    );
  });

  it('CRITICAL pages only where the policy pages (production, pager on)', () => {
    const critical = { ...base, severity: 'CRITICAL' as const, environment: 'prod' };
    assert.deepEqual(
      routeNotification(critical, channels).map((c) => c.name),
      ['chat', 'audit', 'prod-chat'],
    );
    assert.deepEqual(
      routeNotification({ ...critical, page: true }, channels).map((c) => c.name),
      ['chat', 'audit', 'pager', 'prod-chat'],
    );
    assert.ok(
      !routeNotification({ ...critical, page: true, kind: 'silence-ended' }, channels).some(
        (c) => c.type === 'pager',
      ),
    );
  });

  it('builds a Slack text, a PagerDuty Events v2 body, and the notification itself for webhooks', () => {
    const slack = bodyFor('slack', base);
    assert.equal(slack.channel, '#alerts-api-dev');
    assert.match(
      String(slack.text),
      /Database - Connections on api\/dev[\s\S]*0\.950 \(threshold: above 0\.900\)[\s\S]*Handbook/,
    );
    const page = bodyFor('pager', { ...base, kind: 'resolved' }) as {
      event_action: string;
      dedup_key: string;
      payload: Record<string, unknown>;
    };
    assert.equal(page.event_action, 'resolve');
    assert.equal(page.dedup_key, 'inc-1');
    assert.equal(page.payload.source, 'api/dev');
    assert.equal(bodyFor('webhook', base).incidentId, 'inc-1');
  });

  it('signs `<timestamp>.<body>` with HMAC-SHA256', () => {
    const want = createHmac('sha256', 'secret').update('1700000000.{"a":1}').digest('hex');
    assert.equal(signBody('secret', '1700000000', '{"a":1}'), `sha256=${want}`);
  });
});
