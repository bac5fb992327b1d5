/**
 * The page frame every dashboard page shares (navigation, the signed-in user, the live-update status) and
 * small formatting helpers. Markup is Hono's `html` template: every interpolated value is escaped.
 */
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { Action, Session } from './capabilities.js';

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/**
 * The navigation, in order. `ready: false` is a slot for a page whose API is still to come: it is shown,
 * disabled, so the layout does not move when the page lands.
 */
export const NAV: ReadonlyArray<{ id: string; label: string; href: string; ready: boolean }> = [
  { id: 'overview', label: 'Overview', href: '/', ready: true },
  { id: 'operations', label: 'Operations', href: '/ui/operations', ready: true },
  { id: 'alerts', label: 'Alerts', href: '/ui/alerts', ready: true },
  { id: 'fleets', label: 'Fleets', href: '/ui/fleets', ready: true },
  { id: 'access', label: 'Access', href: '/ui/access', ready: true },
  { id: 'audit', label: 'Audit', href: '/ui/audit', ready: true },
];

export interface PageOptions {
  title: string;
  active: string;
  session: Session;
  body: Html;
  notice?: string | undefined;
  error?: string | undefined;
  /** Load the chart library (pages with charts). */
  charts?: boolean;
}

export function layout(p: PageOptions): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content='{"disableInheritance":true,"includeIndicatorStyles":false}' />
        <title>${p.title} · MSP</title>
        <link rel="stylesheet" href="/ui/static/dashboard.css" />
        ${p.charts ? html`<link rel="stylesheet" href="/ui/static/uPlot.min.css" />` : ''}
        <script src="/ui/static/htmx.min.js" defer></script>
        ${p.charts ? html`<script src="/ui/static/uPlot.iife.min.js" defer></script>` : ''}
        <script src="/ui/static/dashboard.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
          <a class="brand" href="/">MSP</a>
          <nav aria-label="Main">
            <ul>
              ${NAV.map((n) =>
                n.ready
                  ? html`<li>
                      <a href="${n.href}" ${n.id === p.active ? raw('aria-current="page"') : ''}
                        >${n.label}</a
                      >
                    </li>`
                  : html`<li><span class="soon" title="Not available yet">${n.label}</span></li>`,
              )}
            </ul>
          </nav>
          <div class="user">
            <span class="who">${p.session.name} <small>(${p.session.role})</small></span>
            <span id="live-status" class="live" role="status" aria-live="polite">connecting…</span>
            <form method="post" action="/ui/sign-out">
              <button type="submit" class="link">Sign out</button>
            </form>
          </div>
        </header>
        <main id="main" tabindex="-1">
          ${p.notice ? html`<p class="notice" role="status">${p.notice}</p>` : ''}
          ${p.error ? html`<p class="error" role="alert">${p.error}</p>` : ''} ${p.body}
        </main>
      </body>
    </html>`;
}

/** A form posting one action, shown only when the session may do it. */
export function actionForm(
  session: Session,
  action: Action,
  label: string,
  fields: Record<string, string>,
  /** `confirm`: the question, naming `target`, which the answer must send back (destructive actions). */
  options: { confirm?: string; target?: string; back: string; danger?: boolean } = { back: '/' },
): Html {
  if (!session.can.has(action)) return html``;
  return html`<form
    method="post"
    action="/ui/act/${action}"
    class="inline"
    data-confirm="${options.confirm ?? ''}"
    data-target="${options.target ?? ''}"
  >
    ${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}" />`)}
    <input type="hidden" name="back" value="${options.back}" />
    ${options.confirm ? html`<input type="hidden" name="confirm" value="" />` : ''}
    <button type="submit" class="${options.danger ? 'danger' : ''}">${label}</button>
  </form>`;
}

const GOOD = new Set(['healthy', 'succeeded', 'running', 'good', 'verified', 'active', 'intact']);
const BAD = new Set(['failed', 'unhealthy', 'crashed', 'error', 'degraded', 'corrupt', 'broken']);

export function badge(status: string | null | undefined): Html {
  const s = status ?? 'unknown';
  const tone = GOOD.has(s) ? 'ok' : BAD.has(s) ? 'bad' : 'mid';
  return html`<span class="badge ${tone}">${s}</span>`;
}

/** "3 min ago" from an ISO time or an age in seconds. */
export function ago(at: string | number | null | undefined, now = Date.now()): string {
  if (at === null || at === undefined) return '—';
  const seconds = typeof at === 'number' ? at : Math.max(0, (now - Date.parse(at)) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function time(at: string | null | undefined): Html {
  if (!at) return html`—`;
  return html`<time datetime="${at}" title="${at}">${ago(at)}</time>`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 && u > 0 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

export const deploymentHref = (key: string) => `/ui/deployment?key=${encodeURIComponent(key)}`;
export const serviceHref = (service: string) => `/ui/services/${encodeURIComponent(service)}`;
export const operationHref = (id: string) => `/ui/operations/${encodeURIComponent(id)}`;

/** JSON for a `<script type="application/json">` block: `<` escaped so no tag can close it. */
export function jsonData(id: string, value: unknown): Html {
  const text = JSON.stringify(value).replace(/</g, '\\u003c');
  return html`<script type="application/json" id="${id}">
    ${raw(text)}
  </script>`;
}
