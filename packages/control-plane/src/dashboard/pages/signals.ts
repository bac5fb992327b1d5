/**
 * A deployment's stored signals (GET /signals, issue 11) as charts for dashboard.js `charts()`: requests by
 * status class, response time at the proxy, and resource usage (container and database CPU, memory, disk) in percent of their limits.
 * Per sample time, response counts are summed over instances and ratios take the busiest instance.
 */
import { html } from 'hono/html';
import type { SignalPoint } from '../../alerts/store.js';
import { q, type UserApi } from '../client.js';
import { jsonData, type Html } from '../layout.js';

interface Chart {
  x: number[];
  series: Array<{ label: string; values: Array<number | null> }>;
}

const REQUESTS = ['responses_2xx', 'responses_3xx', 'responses_4xx', 'responses_5xx', 'responses_1xx'];
const RATIOS = ['container_cpu', 'container_memory', 'db_cpu', 'db_memory', 'db_disk', 'db_connections'];

/** One chart of the named signals present in `points`, aggregated per sample time. */
export function chartOf(
  points: SignalPoint[],
  names: string[],
  how: 'sum' | 'max',
  scale = 1,
  label = (n: string) => n,
): Chart | null {
  const wanted = points.filter((p) => names.includes(p.signal));
  const present = names.filter((n) => wanted.some((p) => p.signal === n));
  if (present.length === 0) return null;
  const at = (p: SignalPoint) => Math.floor(Date.parse(p.at) / 1000);
  const x = [...new Set(wanted.map(at))].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));
  const series = present.map((name) => {
    const values: Array<number | null> = x.map(() => null);
    for (const p of wanted) {
      if (p.signal !== name) continue;
      const i = index.get(at(p))!;
      const v = p.value * scale;
      const old = values[i] ?? null;
      values[i] = old === null ? v : how === 'sum' ? old + v : Math.max(old, v);
    }
    return { label: label(name), values: values.map((v) => (v === null ? null : Math.round(v * 100) / 100)) };
  });
  return { x, series };
}

export async function signalsSection(api: UserApi, key: string): Promise<Html> {
  const r = await api.get<{ points: SignalPoint[] }>(`/signals?deployment=${q(key)}&since=1h&limit=20000`);
  if (r.status !== 200) return html``;
  const requests = chartOf(r.body.points, REQUESTS, 'sum', 1, (n) => n.replace('responses_', ''));
  const usage = chartOf(r.body.points, RATIOS, 'max', 100, (n) => `${n.replace('_', ' ')} %`);
  const latency = chartOf(r.body.points, ['response_latency_ms'], 'max', 1, () => 'mean ms');
  if (!requests && !usage) {
    return html`<h2>Signals</h2>
      <p class="muted">No signal sampled in the last hour (alerting samples running deployments).</p>`;
  }
  const chart = (id: string, title: string, data: Chart | null) =>
    data
      ? html`<h3>${title}</h3>
          <div class="chart" data-chart="${id}" role="img" aria-label="${title} over the last hour"></div>
          ${jsonData(id, data)}`
      : '';
  return html`<h2>Signals (last hour)</h2>
    ${chart('requests-data', 'Responses per sample by status class', requests)}
    ${chart('latency-data', 'Response time at the proxy (mean per sample, ms)', latency)}
    ${chart('usage-data', 'CPU, memory and disk (% of limit)', usage)}`;
}
