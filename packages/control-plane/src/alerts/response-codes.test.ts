/**
 * A response-code ratio on the local runtime counts what the spec says, as the generated PromQL and Cloud
 * Monitoring filters do: an exact `code`, or a `codeClass`, or every response, less `excludeCodes`; over
 * all responses. The proxy's counters go through the sampler (exact codes as `responses_code_<code>`
 * points) into the window the engine evaluates.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DeploymentSignals } from '../runtime-port.js';
import type { DeploymentRow } from '../state/store.js';
import { responseCodeRatio, SignalWindow } from './evaluator.js';
import { newSamplerMemory, pointsOf } from './sampler.js';

const row = {
  key: 'shop/prod',
  service: 'shop',
  environment: 'prod',
  instance: null,
  createdAt: new Date(0).toISOString(),
  spec: { environment: { instances: { resources: { cpu: 1, memory: '512Mi' } } } },
} as unknown as DeploymentRow;

/** Cumulative counters as the proxy reports them, from exact codes. */
function signals(codes: Record<string, number>): DeploymentSignals {
  const responses = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  for (const [code, n] of Object.entries(codes)) responses[`${code[0]}xx` as keyof typeof responses] += n;
  return { instances: [], pendingRequests: 0, responses, responseCodes: codes };
}

describe('response-code ratios on the local runtime', () => {
  const window = new SignalWindow(() => 60_000);
  const memory = newSamplerMemory();
  const t0 = Date.now() - 10_000;
  // Before the window: counters the sampler only remembers. Then, in the window: 60 × 200, 20 × 429,
  // 10 × 404, 6 × 503 and 4 × 500 (100 responses).
  for (const [at, codes] of [
    [t0, { 200: 1000, 429: 5, 503: 1 }],
    [t0 + 1000, { 200: 1030, 429: 15, 404: 4, 503: 4 }],
    [t0 + 2000, { 200: 1060, 429: 25, 404: 10, 503: 7, 500: 4 }],
  ] as const) {
    window.add(pointsOf(row, signals(codes), memory, at, undefined), at);
  }
  const since = t0 + 500;
  const ratio = (codes: { code?: number; codeClass?: string; excludeCodes?: number[] }) =>
    responseCodeRatio(window, row.key, { excludeCodes: [], ...codes }, since);

  test('only codes seen since the last sample are points, counted since then', () => {
    const codes = pointsOf(row, signals({ 200: 1060, 429: 26 }), memory, t0 + 3000, undefined)
      .filter((p) => p.signal.startsWith('responses_code_'))
      .map((p) => `${p.signal}=${p.value}`);
    assert.deepEqual(codes, ['responses_code_429=1']);
  });

  test('an exact code counts only that code', () => {
    assert.equal(ratio({ code: 429 }), 0.2);
    assert.equal(ratio({ code: 418 }), 0);
    assert.equal(ratio({ code: 429, excludeCodes: [429] }), 0);
  });

  test('a class less its excluded codes; an excluded code of another class changes nothing', () => {
    assert.equal(ratio({ codeClass: '5xx' }), 0.1);
    assert.equal(ratio({ codeClass: '5xx', excludeCodes: [503] }), 0.04);
    assert.equal(ratio({ codeClass: '4xx', excludeCodes: [429, 503] }), 0.1);
  });

  test('neither code nor class: every response less the excluded ones', () => {
    assert.equal(ratio({ excludeCodes: [200] }), 0.4);
    assert.equal(ratio({}), 1);
  });

  test('no responses in the window: no data, not zero', () => {
    assert.equal(responseCodeRatio(window, 'other/dev', { code: 500, excludeCodes: [] }, since), null);
  });
});
