/**
 * The web dashboard: pages rendered by the control plane (Hono's html templates, htmx for live fragments,
 * uPlot for charts, all served from node_modules), mounted at `/` beside /api/v1. Every read and every
 * action is a call to /api/v1 in process with the signed-in user's own token: no bypass of the API's
 * authentication, validation or authorization. See docs/dashboard.md.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { bodyLimit } from 'hono/body-limit';
import { compress } from 'hono/compress';
import { html } from 'hono/html';
import type { FeatureModule } from '../server.js';
import { JSON_BODY_LIMIT } from '../api/schemas.js';
import { ACTIONS, type Action, type Session } from './capabilities.js';
import { ApiFailure, userApi, type UserApi } from './client.js';
import { layout, type Html } from './layout.js';
import { runAction } from './actions.js';
import { liveStream } from './stream.js';
import { lastBackupCell, overviewPage } from './pages/overview.js';
import { servicePage } from './pages/service.js';
import { deploymentPage } from './pages/deployment.js';
import { operationPage, operationsPage } from './pages/operations.js';
import { signInPage } from './pages/sign-in.js';
import { accessPage } from './pages/access.js';
import { auditPage } from './pages/audit.js';
import { alertsPage } from './pages/alerts.js';
import { fleetPage, fleetReportPage, fleetsPage } from './pages/fleets.js';
import { sessionRoutes, type SessionView } from './session.js';
import { continuePage, oidcLabel, oidcSignInRoutes } from './oidc-sign-in.js';
import { OIDC_SECRET_SCOPE, oidcOf } from '../access/index.js';
import type { OidcConfig } from '../access/oidc.js';

export const SESSION_COOKIE = 'msp_session';
const SESSION_SECONDS = 12 * 3600;

export interface DashboardOptions {
  /** How often the live stream looks for changes (default 1000 ms). */
  streamIntervalMs?: number;
}

/** What the OIDC sign-in needs from the control plane (oidc-sign-in.ts); without it, tokens only. */
export interface DashboardOidc {
  config: () => OidcConfig | undefined;
  secret: (name: string) => Promise<string | undefined>;
  log: (line: string) => void;
}

const require = createRequire(import.meta.url);
const STATIC: Record<string, { path: string; type: string }> = {
  'htmx.min.js': { path: require.resolve('htmx.org/dist/htmx.min.js'), type: 'text/javascript' },
  'uPlot.iife.min.js': { path: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript' },
  'uPlot.min.css': { path: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css' },
  'dashboard.js': {
    path: fileURLToPath(new URL('../../static/dashboard/dashboard.js', import.meta.url)),
    type: 'text/javascript',
  },
  'dashboard.css': {
    path: fileURLToPath(new URL('../../static/dashboard/dashboard.css', import.meta.url)),
    type: 'text/css',
  },
};

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
};

type Api = (request: Request) => Promise<Response>;

/** The user behind the session cookie, or undefined (no cookie, or the API no longer accepts its token). */
async function sessionOf(c: Context, api: Api): Promise<{ session: Session; user: UserApi } | undefined> {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token || !tokenShaped(token)) return undefined;
  const user = userApi(api, token);
  const r = await user.get<SessionView>('/dashboard/session');
  if (r.status !== 200) return undefined;
  const can = new Set(r.body.can.filter((a): a is Action => (ACTIONS as readonly string[]).includes(a)));
  return { session: { name: r.body.name, role: r.body.role, can }, user };
}

/** A token can only be printable ASCII without spaces (a NUL or a newline could not even be a header). */
const tokenShaped = (token: string) => /^[\x21-\x7e]+$/.test(token);

/** A same-site form post: the cookie is SameSite=Strict, and a cross-site Origin is refused as well. */
function sameSite(c: Context): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return false;
  const origin = c.req.header('origin');
  return !origin || origin === new URL(c.req.url).origin;
}

/** A path of this dashboard to go back to after an action (never another site). */
export function safeBack(back: unknown): string {
  return typeof back === 'string' && /^\/(?!\/)[^\\\s]*$/.test(back) ? back : '/';
}

type PageResult = { title: string; body: Html; charts?: boolean };

/** The session cookie: the user's bearer token, HttpOnly and SameSite=Strict, for `seconds`. */
function openSession(c: Context, token: string, seconds: number): void {
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'Strict',
    path: '/',
    maxAge: seconds,
    secure: new URL(c.req.url).protocol === 'https:',
  });
}

export function dashboardApp(api: Api, options: DashboardOptions = {}, oidc?: DashboardOidc): Hono {
  const app = new Hono();
  const oidcButton = () => oidcLabel(oidc?.config());
  const secure = (c: Context) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
  };
  // Pages are compressed (the overview of 200 deployments is ~180 KiB of HTML, ~10 % of it gzipped).
  const gzip = compress();
  const page =
    (active: string, render: (c: Context, user: UserApi, session: Session) => Promise<PageResult>) =>
    async (c: Context) => {
      secure(c);
      const who = await sessionOf(c, api);
      if (!who) return c.redirect('/ui/sign-in', 303);
      const notice = c.req.query('notice');
      try {
        const p = await render(c, who.user, who.session);
        return c.html(layout({ ...p, active, session: who.session, notice, error: c.req.query('error') }));
      } catch (error) {
        if (!(error instanceof ApiFailure)) throw error;
        // The API's own refusal (400 bad id, 403, 404) is the page's; anything else is a bad gateway.
        c.status(error.status >= 400 && error.status < 500 ? (error.status as 400) : 502);
        return c.html(
          layout({ title: 'Error', active, session: who.session, body: html``, error: error.message }),
        );
      }
    };

  // Forms are small: past the API's JSON limit the answer is 413, before the rest is read.
  app.use(
    '/ui/*',
    bodyLimit({ maxSize: JSON_BODY_LIMIT, onError: (c) => c.text('request body too large', 413) }),
  );

  app.get('/ui/static/:file', gzip, async (c) => {
    const file = STATIC[c.req.param('file')];
    if (!file) return c.text('not found', 404);
    c.header('content-type', `${file.type}; charset=utf-8`);
    c.header('cache-control', 'max-age=300');
    return c.body(await readFile(file.path));
  });

  // Browsers ask for it on every site; without this the API's bearer auth would answer 401.
  app.get('/favicon.ico', (c) => c.body(null, 204));
  app.get('/ui/sign-in', (c) => {
    secure(c);
    return c.html(signInPage(undefined, oidcButton()));
  });
  app.post('/ui/sign-in', async (c) => {
    secure(c);
    if (!sameSite(c)) return c.text('cross-site sign-in refused', 403);
    const form = await c.req.parseBody();
    const token = typeof form.token === 'string' ? form.token.trim() : '';
    const r = tokenShaped(token)
      ? await userApi(api, token).get<SessionView>('/dashboard/session')
      : undefined;
    if (r?.status !== 200) {
      c.status(401);
      return c.html(
        signInPage('That token is not valid or has expired: check it and try again.', oidcButton()),
      );
    }
    openSession(c, token, SESSION_SECONDS);
    return c.redirect('/', 303);
  });
  if (oidc) {
    app.use('/ui/oidc/*', async (c: Context, next) => {
      secure(c);
      await next();
    });
    oidcSignInRoutes(app, {
      api,
      ...oidc,
      openSession: (c, token, expiresAt) => {
        openSession(c, token, Math.min(SESSION_SECONDS, Math.floor((expiresAt - Date.now()) / 1000)));
        return c.html(continuePage());
      },
    });
  }
  app.post('/ui/sign-out', (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/ui/sign-in', 303);
  });

  app.get(
    '/',
    gzip,
    page('overview', (_c, user, session) => overviewPage(user, session)),
  );
  app.get(
    '/ui/services/:service',
    gzip,
    page('overview', (c, user, session) => servicePage(user, session, c.req.param('service') ?? '')),
  );
  app.get(
    '/ui/deployment',
    gzip,
    page('overview', (c, user, session) => deploymentPage(user, session, c.req.query('key') ?? '')),
  );
  app.get(
    '/ui/operations',
    gzip,
    page('operations', (_c, user) => operationsPage(user)),
  );
  app.get(
    '/ui/operations/:id',
    gzip,
    page('operations', (c, user) => operationPage(user, c.req.param('id') ?? '')),
  );
  app.get(
    '/ui/access',
    gzip,
    page('access', (_c, user, session) => accessPage(user, session)),
  );
  app.get(
    '/ui/alerts',
    gzip,
    page('alerts', (_c, user, session) => alertsPage(user, session)),
  );
  app.get(
    '/ui/fleets',
    gzip,
    page('fleets', (_c, user) => fleetsPage(user)),
  );
  app.get(
    '/ui/fleets/:id',
    gzip,
    page('fleets', (c, user, session) => fleetPage(user, session, c.req.param('id') ?? '')),
  );
  app.get(
    '/ui/fleets/:id/report',
    gzip,
    page('fleets', (c, user) => fleetReportPage(user, c.req.param('id') ?? '')),
  );
  app.get(
    '/ui/audit',
    gzip,
    page('audit', (c, user) => auditPage(user, c.req.query('actor') ?? '')),
  );

  app.get('/ui/fragments/last-backup', async (c) => {
    const who = await sessionOf(c, api);
    if (!who) return c.text('', 401);
    return c.html(await lastBackupCell(who.user, c.req.query('key') ?? ''));
  });

  app.post('/ui/act/:action', async (c) => {
    secure(c);
    if (!sameSite(c)) return c.text('cross-site request refused', 403);
    const who = await sessionOf(c, api);
    if (!who) return c.redirect('/ui/sign-in', 303);
    const form = await c.req.parseBody();
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(form)) if (typeof v === 'string') fields[k] = v;
    const back = safeBack(fields.back);
    const outcome = await runAction(who.user, c.req.param('action') ?? '', fields);
    const sep = back.includes('?') ? '&' : '?';
    const query = outcome.ok
      ? `notice=${encodeURIComponent(outcome.message)}`
      : `error=${encodeURIComponent(outcome.message)}`;
    return c.redirect(`${back}${sep}${query}`, 303);
  });

  app.get('/ui/stream', async (c) => {
    const who = await sessionOf(c, api);
    if (!who) return c.text('sign in first', 401);
    return liveStream(
      c,
      who.user,
      options.streamIntervalMs ?? 1000,
      c.req.query('access') === '1',
      c.req.query('fleets') === '1',
    );
  });
  return app;
}

/** The dashboard as a feature module: the session route under /api/v1, the pages at `/`. */
export function createDashboardModule(options: DashboardOptions = {}): FeatureModule {
  return {
    name: 'dashboard',
    async setup(ctx) {
      // Browser sign-in through msp.yaml's access.oidc, followed across reconciles like the access module.
      let oidcConfig = await oidcOf(ctx.repoDir);
      const oidc: DashboardOidc = {
        config: () => oidcConfig,
        secret: (name) => ctx.store.getSecret(OIDC_SECRET_SCOPE, name),
        log: ctx.log,
      };
      return {
        routes: [sessionRoutes],
        mounts: [{ path: '/', app: dashboardApp(ctx.api, options, oidc) }],
        onReconciled: async () => {
          oidcConfig = await oidcOf(ctx.repoDir);
        },
      };
    },
  };
}
