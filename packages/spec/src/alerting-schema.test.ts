import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertingSchema } from './platform-schema.js';

void describe('msp.yaml alerting', () => {
  it('defaults: time scale 1, a sample every 10 s, no channels', () => {
    assert.deepEqual(alertingSchema.parse({}), { timeScale: 1, sampleIntervalSeconds: 10, channels: [] });
  });

  it('refuses a channel URL that is not http(s), a webhook without its secret, a time scale above 1', () => {
    const problems = (value: unknown) =>
      alertingSchema.safeParse(value).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    assert.match(
      problems({ channels: [{ name: 'chat', type: 'slack', url: 'ftp://chat.example/x' }] }).join('\n'),
      /channels\.0\.url: must be an http\(s\) URL/,
    );
    assert.match(
      problems({ channels: [{ name: 'audit', type: 'webhook', url: 'https://audit.example/x' }] }).join('\n'),
      /channels\.0\.secret: a webhook channel needs `secret`/,
    );
    assert.match(problems({ timeScale: 2 }).join('\n'), /timeScale/);
  });
});
