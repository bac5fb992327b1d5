/**
 * Dashboard sign-in through the OIDC issuer msp.yaml names (`access.oidc`): the authorization code flow with
 * PKCE (S256), `state` and `nonce`. GET /ui/oidc/start sends the browser to the issuer; GET /ui/oidc/callback
 * exchanges the code, checks the ID token (access/oidc.ts: signature, issuer, audience, expiry, plus the
 * nonce) and opens the same session as a token sign-in with the ID token as its bearer, so every page and
 * action still goes through the API's authentication, roles and grants; the session ends with the token.
 * A pending sign-in lives here (single use, 10 minutes), bound to the browser that started it by an
 * HttpOnly SameSite=Lax cookie (Lax: the issuer sends the browser back cross-site with a GET).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { html } from 'hono/html';
import { discover, verifyJwt, type OidcConfig } from '../access/oidc.js';
import { messageOf, userApi } from './client.js';
import { signInPage } from './pages/sign-in.js';
import type { SessionView } from './session.js';

const FLOW_COOKIE = 'msp_oidc';
const FLOW_MS = 10 * 60_000;
/** Pending sign-ins kept at most (the oldest go first): /ui/oidc/start needs no session. */
const MAX_PENDING = 1000;

export interface OidcSignInDeps {
  api: (request: Request) => Promise<Response>;
  /** msp.yaml's `access.oidc` as of now, or undefined when OIDC is not configured. */
  config: () => OidcConfig | undefined;
  /** A secret of the control plane's secret store (the client secret `access.oidc.clientSecret` names). */
  secret: (name: string) => Promise<string | undefined>;
  /** Opens the dashboard session for `token` until `expiresAt` and answers the browser. */
  openSession: (c: Context, token: string, expiresAt: number) => Response | Promise<Response>;
  log: (line: string) => void;
}

interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
  issuer: string;
  expires: number;
}

/** The sign-in button's text: "Sign in with <issuer host>". */
export function oidcLabel(config: OidcConfig | undefined): string | undefined {
  return config ? `Sign in with ${new URL(config.issuer).host}` : undefined;
}

const random = () => randomBytes(32).toString('base64url');
const sameString = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** A refusal shown to the person; the reason (never a token) goes to the log. */
class Refused extends Error {
  constructor(
    readonly shown: string,
    readonly reason: string = shown,
  ) {
    super(reason);
  }
}

export function oidcSignInRoutes(app: Hono, deps: OidcSignInDeps): void {
  const pending = new Map<string, Pending>();
  const secure = (c: Context) => new URL(c.req.url).protocol === 'https:';

  app.get('/ui/oidc/start', async (c) => {
    const config = deps.config();
    if (!config) return c.text('OIDC sign-in is not configured (msp.yaml access.oidc)', 404);
    let endpoint: string | undefined;
    try {
      endpoint = (await discover(config.issuer)).doc.authorization_endpoint;
    } catch (error) {
      deps.log(`dashboard: OIDC sign-in: ${(error as Error).message}`);
    }
    if (!endpoint) {
      c.status(502);
      return c.html(
        signInPage(
          `The sign-in service at ${config.issuer} did not answer with its configuration: try again later, or sign in with a token.`,
          oidcLabel(config),
        ),
      );
    }
    const now = Date.now();
    for (const [id, p] of pending) if (p.expires < now || pending.size >= MAX_PENDING) pending.delete(id);
    const flow = random();
    const p: Pending = {
      state: random(),
      nonce: random(),
      verifier: random(),
      redirectUri: `${new URL(c.req.url).origin}/ui/oidc/callback`,
      issuer: config.issuer,
      expires: now + FLOW_MS,
    };
    pending.set(flow, p);
    setCookie(c, FLOW_COOKIE, flow, {
      httpOnly: true,
      sameSite: 'Lax',
      path: '/ui/oidc',
      maxAge: FLOW_MS / 1000,
      secure: secure(c),
    });
    // `email` and `profile` bring the usual username claims (email, preferred_username, name); a phone
    // number needs `phone`. Other claims must be released by the issuer without a scope.
    const scope = [
      'openid',
      'email',
      'profile',
      ...(config.usernameClaim.startsWith('phone_') ? ['phone'] : []),
    ];
    const url = new URL(endpoint);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: config.clientId ?? config.audience,
      redirect_uri: p.redirectUri,
      scope: scope.join(' '),
      state: p.state,
      nonce: p.nonce,
      code_challenge: createHash('sha256').update(p.verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    c.header('cache-control', 'no-store');
    return c.redirect(url.toString(), 302);
  });

  app.get('/ui/oidc/callback', async (c) => {
    const config = deps.config();
    if (!config) return c.text('OIDC sign-in is not configured (msp.yaml access.oidc)', 404);
    c.header('cache-control', 'no-store');
    const flow = getCookie(c, FLOW_COOKIE);
    deleteCookie(c, FLOW_COOKIE, { path: '/ui/oidc', secure: secure(c) });
    const p = flow ? pending.get(flow) : undefined;
    if (flow) pending.delete(flow); // single use, whatever happens next
    try {
      const error = c.req.query('error');
      if (error) {
        const code = /^[a-z_]{1,64}$/.test(error) ? error : 'an error';
        throw new Refused(`The sign-in service refused the sign-in (${code}): try again.`);
      }
      if (!p || p.expires < Date.now() || p.issuer !== config.issuer) {
        throw new Refused(
          'This sign-in expired or was already used: start again with the button below.',
          'no pending sign-in for this browser (expired, replayed or started elsewhere)',
        );
      }
      if (!sameString(c.req.query('state') ?? '', p.state)) {
        throw new Refused(
          'This sign-in did not come from this browser: start again with the button below.',
          'the state does not match',
        );
      }
      const code = c.req.query('code');
      if (!code) throw new Refused('The sign-in service sent no code back: try again.');
      const idToken = await exchange(config, p, code, deps);
      const payload = await verifyJwt(config, idToken).catch(() => undefined);
      if (!payload || typeof payload.nonce !== 'string' || !sameString(payload.nonce, p.nonce)) {
        throw new Refused(
          'The sign-in service answered with an identity MSP cannot trust: ask your admin to check access.oidc.',
          `the ID token is not valid (signature, issuer, audience ${config.clientId ?? config.audience}, expiry or nonce)`,
        );
      }
      // The API decides, as for every call: a known, enabled user (or a role claim), their role.
      const session = await userApi(deps.api, idToken).get<SessionView>('/dashboard/session');
      if (session.status !== 200) {
        const name = payload[config.usernameClaim];
        const who = typeof name === 'string' ? name : `(no ${config.usernameClaim} claim)`;
        throw new Refused(
          `Signed in as ${who}, but MSP has no such user, or they are disabled: ask an admin to run \`msp users add\`.`,
          `${who} is not a user of this control plane (${messageOf(session)})`,
        );
      }
      deps.log(`dashboard: ${session.body.name} signed in through ${config.issuer}`);
      return await deps.openSession(c, idToken, (payload.exp ?? 0) * 1000);
    } catch (error) {
      const refused =
        error instanceof Refused
          ? error
          : new Refused(
              'The sign-in could not be completed: try again, or sign in with a token.',
              (error as Error).message,
            );
      deps.log(`dashboard: OIDC sign-in refused: ${refused.reason}`);
      c.status(error instanceof Refused ? 401 : 502);
      return c.html(signInPage(refused.shown, oidcLabel(config)));
    }
  });
}

/** The ID token for `code` from the issuer's token endpoint (with the PKCE verifier). */
async function exchange(config: OidcConfig, p: Pending, code: string, deps: OidcSignInDeps): Promise<string> {
  const { doc } = await discover(config.issuer);
  if (!doc.token_endpoint)
    throw new Error(`the discovery document of ${config.issuer} names no token_endpoint`);
  const clientId = config.clientId ?? config.audience;
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: p.redirectUri,
    client_id: clientId,
    code_verifier: p.verifier,
  });
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  if (config.clientSecret) {
    const secret = await deps.secret(config.clientSecret);
    if (secret === undefined) {
      throw new Refused(
        'OIDC sign-in is not set up completely: ask an admin to set the client secret.',
        `the client secret ${config.clientSecret} is not in the secret store: set it with \`msp access oidc-secret set ${config.clientSecret}\``,
      );
    }
    const methods = doc.token_endpoint_auth_methods_supported;
    if (!methods || methods.includes('client_secret_basic')) {
      const enc = (s: string) => encodeURIComponent(s);
      headers.authorization = `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}`;
    } else body.set('client_secret', secret);
  }
  const res = await fetch(doc.token_endpoint, {
    method: 'POST',
    headers,
    body,
    redirect: 'error',
    signal: AbortSignal.timeout(10_000),
  });
  const answer = (await res.json().catch(() => ({}))) as { id_token?: unknown; error?: unknown };
  if (!res.ok || typeof answer.id_token !== 'string') {
    const why = typeof answer.error === 'string' && /^[a-z_]{1,64}$/.test(answer.error) ? answer.error : '';
    throw new Refused(
      'The sign-in service did not accept the sign-in code: try again.',
      `the token endpoint answered ${res.status}${why ? ` (${why})` : ''} without an ID token`,
    );
  }
  return answer.id_token;
}

/** The page the callback answers with: a same-site step to `/`, so the SameSite=Strict cookie is sent. */
export function continuePage() {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta http-equiv="refresh" content="0;url=/" />
        <title>Signed in · MSP</title>
        <link rel="stylesheet" href="/ui/static/dashboard.css" />
      </head>
      <body>
        <main id="main" class="signin">
          <p>Signed in. <a href="/">Continue to the dashboard</a>.</p>
        </main>
      </body>
    </html>`;
}
