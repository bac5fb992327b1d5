// Over 400 lines: one control plane and one local issuer shared by every OIDC sign-in case, to keep the suite fast.
/**
 * Dashboard sign-in through OIDC over real HTTP: a local issuer (discovery, JWKS, an authorize endpoint that
 * sends the browser back with a code, a token endpoint that checks the PKCE verifier) and a real control
 * plane reading `access.oidc` from msp.yaml. The browser is played by fetch with its cookies kept by hand.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { rm, appendFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { findFreePort } from '@msp/runtime-local';
import { createAuditModule } from '../audit/index.js';
import { createAccessModule } from '../access/index.js';
import { startControlPlane, type ControlPlane } from '../server.js';
import { createLocalRuntime } from '../targets/local/index.js';
import { createFixtureRepo, type FixtureRepo } from '../testing/fixture-repo.js';
import { chromium } from 'playwright-core';
import { findChromium } from './browser.js';
import { createDashboardModule, dashboardApp, SESSION_COOKIE } from './index.js';

const chromiumPath = await findChromium((line) => console.log(line));

const CLIENT = 'msp-dashboard';
const CLIENT_SECRET = 's3cret-of-the-dashboard-client';
const BIN = fileURLToPath(new URL('../../../cli/bin/msp.js', import.meta.url));

/** A browser: cookies per name, redirects followed by the test. */
function browser() {
  const jar = new Map<string, string>();
  const setCookies: string[] = [];
  return {
    jar,
    setCookies,
    async get(url: string) {
      const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
      for (const line of res.headers.getSetCookie()) {
        setCookies.push(line);
        const [pair] = line.split(';');
        const [name, value] = [pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1)];
        if (/max-age=0\b/i.test(line) || value === '') jar.delete(name);
        else jar.set(name, value);
      }
      return { status: res.status, location: res.headers.get('location'), text: await res.text() };
    },
  };
}

describe('dashboard sign-in through OIDC', () => {
  let repo: FixtureRepo;
  let cp: ControlPlane;
  let issuer: Server;
  let issuerUrl: string;
  const keys = generateKeyPair('ES256');
  const otherKeys = generateKeyPair('ES256');
  const logs: string[] = [];
  const issued: string[] = [];
  /** Who the issuer signs in next, how, and what the last authorize request asked. */
  const idp = {
    user: 'vera@example.com',
    signWithOtherKey: false,
    deny: false,
    wrongNonce: false,
    lifetime: 300,
    lastAuthorize: undefined as URLSearchParams | undefined,
  };
  const codes = new Map<
    string,
    { challenge: string; nonce: string; redirectUri: string; user: string; clientId: string }
  >();

  const idToken = async (user: string, nonce: string) => {
    const { privateKey } = idp.signWithOtherKey ? await otherKeys : await keys;
    const token = await new SignJWT({ email: user, nonce: idp.wrongNonce ? `${nonce}x` : nonce })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(issuerUrl)
      .setAudience(CLIENT)
      .setSubject(`sub-${user}`)
      .setIssuedAt()
      .setExpirationTime(`${idp.lifetime}s`)
      .sign(privateKey);
    issued.push(token);
    return token;
  };

  before(async () => {
    const { publicKey } = await keys;
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    issuer = createServer((req, res) => {
      const url = new URL(req.url ?? '/', issuerUrl);
      const json = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (url.pathname === '/.well-known/openid-configuration') {
        json(200, {
          issuer: issuerUrl,
          jwks_uri: `${issuerUrl}/jwks`,
          authorization_endpoint: `${issuerUrl}/authorize`,
          token_endpoint: `${issuerUrl}/token`,
        });
      } else if (url.pathname === '/jwks') json(200, { keys: [jwk] });
      else if (url.pathname === '/authorize') {
        const q = url.searchParams;
        idp.lastAuthorize = q;
        const back = new URL(q.get('redirect_uri')!);
        back.searchParams.set('state', q.get('state') ?? '');
        if (idp.deny) back.searchParams.set('error', 'access_denied');
        else {
          const code = randomBytes(16).toString('hex');
          codes.set(code, {
            challenge: q.get('code_challenge')!,
            nonce: q.get('nonce')!,
            redirectUri: q.get('redirect_uri')!,
            user: idp.user,
            clientId: q.get('client_id')!,
          });
          back.searchParams.set('code', code);
        }
        res.writeHead(302, { location: back.toString() }).end();
      } else if (url.pathname === '/token' && req.method === 'POST') {
        let raw = '';
        req.on('data', (b: Buffer) => (raw += b.toString()));
        req.on('end', () => {
          const form = new URLSearchParams(raw);
          const grant = codes.get(form.get('code') ?? '');
          codes.delete(form.get('code') ?? '');
          const verifier = form.get('code_verifier') ?? '';
          if (
            !grant ||
            form.get('grant_type') !== 'authorization_code' ||
            createHash('sha256').update(verifier).digest('base64url') !== grant.challenge ||
            form.get('redirect_uri') !== grant.redirectUri ||
            form.get('client_id') !== grant.clientId ||
            req.headers.authorization !==
              `Basic ${Buffer.from(`${CLIENT}:${CLIENT_SECRET}`).toString('base64')}`
          ) {
            json(400, { error: 'invalid_grant' });
            return;
          }
          void idToken(grant.user, grant.nonce).then((id_token) =>
            json(200, { id_token, access_token: 'at', token_type: 'Bearer' }),
          );
        });
      } else json(404, {});
    });
    await new Promise<void>((r) => issuer.listen(0, '127.0.0.1', r));
    issuerUrl = `http://127.0.0.1:${(issuer.address() as { port: number }).port}`;

    repo = await createFixtureRepo({ name: 'dashboard-oidc' });
    // No services: the overview needs none, and the test needs no deployments.
    await rm(join(repo.dir, 'services'), { recursive: true, force: true });
    await appendFile(
      join(repo.dir, 'msp.yaml'),
      `access:\n  oidc: { issuer: '${issuerUrl}', audience: msp-api, clientId: ${CLIENT}, clientSecret: dashboard-oidc }\n`,
    );
    cp = await startControlPlane({
      repoDir: repo.dir,
      port: await findFreePort(),
      createRuntime: async (deps) => createLocalRuntime({ ...deps, proxyPort: await findFreePort() }),
      modules: [createAuditModule(), createAccessModule(), createDashboardModule()],
      log: (line) => logs.push(line),
    });
    for (const [name, role] of [
      ['vera@example.com', 'viewer'],
      ['otto@example.com', 'operator'],
      ['dora@example.com', 'viewer'],
    ]) {
      const res = await fetch(`${cp.url}/api/v1/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name, role }),
      });
      assert.equal(res.status, 201, await res.text());
    }
    const res = await fetch(`${cp.url}/api/v1/users/dora@example.com/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.ok(res.ok, await res.text());
  });

  after(async () => {
    await cp?.stop();
    issuer?.close();
    if (repo) await rm(repo.dir, { recursive: true, force: true });
    // Neither a page nor the log ever shows a token.
    for (const token of issued) assert.ok(!logs.some((l) => l.includes(token)), 'a token in the log');
  });

  /** Start → the issuer's authorize → the callback, as one browser; the callback's answer. */
  const signIn = async (b = browser()) => {
    const start = await b.get(`${cp.url}/ui/oidc/start`);
    assert.equal(start.status, 302, start.text);
    const authorize = await b.get(start.location!);
    assert.equal(authorize.status, 302);
    return { b, start, callbackUrl: authorize.location!, callback: await b.get(authorize.location!) };
  };

  test('the sign-in page offers the issuer; start asks for a code with PKCE, state and nonce', async () => {
    const page = await browser().get(`${cp.url}/ui/sign-in`);
    const host = new URL(issuerUrl).host;
    assert.match(
      page.text,
      new RegExp(`href="/ui/oidc/start"[^>]*>Sign in with ${host.replace('.', '\\.')}<`),
    );
    assert.match(page.text, /name="token"/, 'the token form stays');

    const b = browser();
    const start = await b.get(`${cp.url}/ui/oidc/start`);
    assert.equal(start.status, 302);
    const to = new URL(start.location!);
    assert.equal(`${to.origin}${to.pathname}`, `${issuerUrl}/authorize`);
    const q = to.searchParams;
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('client_id'), CLIENT);
    assert.equal(q.get('redirect_uri'), `${cp.url}/ui/oidc/callback`);
    assert.equal(q.get('scope'), 'openid email profile');
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/);
    assert.ok((q.get('state') ?? '').length >= 32 && (q.get('nonce') ?? '').length >= 32);
    const flow = b.setCookies.find((c) => c.startsWith('msp_oidc='))!;
    assert.match(flow, /HttpOnly/i);
    assert.match(flow, /SameSite=Lax/i);
    assert.match(flow, /Max-Age=600/i);
    assert.match(flow, /Path=\/ui\/oidc/i);
  });

  test('a confidential client: without its secret the sign-in says so; msp access oidc-secret set fixes it', async () => {
    idp.user = 'vera@example.com';
    const { b, callback } = await signIn();
    assert.equal(callback.status, 401);
    assert.match(callback.text, /not set up completely: ask an admin to set the client secret/);
    assert.ok(!b.jar.has(SESSION_COOKIE));
    assert.ok(logs.some((l) => l.includes('msp access oidc-secret set dashboard-oidc')));

    // The CLI as its own process (the control plane runs in this one).
    const msp = (token: string) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, 'access', 'oidc-secret', 'set', 'dashboard-oidc'], {
          env: { ...process.env, MSP_URL: cp.url, MSP_TOKEN: token },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
        child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        child.on('error', reject);
        child.on('close', (status) => resolve({ status, stdout, stderr }));
        child.stdin.end(`${CLIENT_SECRET}\n`);
      });
    const viewer = await fetch(`${cp.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'vera@example.com', expiresIn: '1h' }),
    });
    const { token } = (await viewer.json()) as { token: string };
    const refused = await msp(token);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /Only an admin may set the OIDC client secret/);
    const set = await msp(cp.adminToken);
    assert.equal(set.status, 0, set.stderr);
    assert.match(set.stdout, /OIDC client secret dashboard-oidc stored/);
    assert.equal(await cp.store.getSecret('access', 'dashboard-oidc'), CLIENT_SECRET);
  });

  test('a viewer signs in at the issuer and sees the overview as themselves, with no action', async () => {
    idp.user = 'vera@example.com';
    const { b, callback } = await signIn();
    assert.equal(callback.status, 200, callback.text);
    assert.match(callback.text, /http-equiv="refresh" content="0;url=\/"/);
    const session = b.setCookies.find((c) => c.startsWith(`${SESSION_COOKIE}=`))!;
    assert.match(session, /HttpOnly/i);
    assert.match(session, /SameSite=Strict/i);
    const maxAge = Number(/Max-Age=(\d+)/i.exec(session)?.[1]);
    assert.ok(maxAge > 0 && maxAge <= idp.lifetime, `the session ends with the ID token (${maxAge})`);
    assert.ok(!b.jar.has('msp_oidc'), 'the pending sign-in cookie is gone');

    const overview = await b.get(`${cp.url}/`);
    assert.equal(overview.status, 200, overview.text);
    assert.match(overview.text, /vera@example\.com <small>\(viewer\)<\/small>/);
    assert.doesNotMatch(overview.text, /action="\/ui\/act\//, 'a viewer sees no action button');
    assert.ok(!issued.some((t) => overview.text.includes(t) || callback.text.includes(t)));
    // The API itself saw the sign-in: it is in the audit trail.
    const audit = await fetch(`${cp.url}/api/v1/audit?actor=vera@example.com`, {
      headers: { authorization: `Bearer ${cp.adminToken}` },
    });
    assert.match(await audit.text(), /"sign-in"/);
  });

  test('an operator signs in and sees the action buttons their role allows', async () => {
    idp.user = 'otto@example.com';
    const { b, callback } = await signIn();
    assert.equal(callback.status, 200, callback.text);
    const overview = await b.get(`${cp.url}/`);
    assert.match(overview.text, /otto@example\.com <small>\(operator\)<\/small>/);
    assert.match(overview.text, /action="\/ui\/act\/reconcile"/);
  });

  test('in a browser: the button, the issuer on another site, back and signed in', async (t) => {
    if (typeof chromiumPath !== 'string') return t.skip(chromiumPath.skip);
    idp.user = 'otto@example.com';
    // The control plane as localhost, the issuer as 127.0.0.1: two sites, so the issuer's redirect back is
    // cross-site (the flow cookie must be Lax) and the Strict session cookie must still be sent after it.
    const site = cp.url.replace('127.0.0.1', 'localhost');
    const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
    try {
      const p = await (await browser.newContext()).newPage();
      await p.goto(`${site}/`);
      await p.waitForURL(/\/ui\/sign-in$/);
      await p.getByRole('link', { name: `Sign in with ${new URL(issuerUrl).host}` }).click();
      await p.waitForURL(`${site}/`);
      await p.getByText('otto@example.com').waitFor();
      await p.getByRole('button', { name: 'Reconcile with the platform repo' }).waitFor();
    } finally {
      await browser.close();
    }
  });

  test('a replayed callback and a forged state are refused', async () => {
    idp.user = 'vera@example.com';
    const { b, callbackUrl, callback } = await signIn();
    assert.equal(callback.status, 200);
    // The same callback again, even with the flow cookie put back: the sign-in was single use.
    b.jar.delete(SESSION_COOKIE);
    const flowCookie = /msp_oidc=([^;]*)/.exec(
      b.setCookies.find((c) => c.startsWith('msp_oidc=')) ?? '',
    )?.[1];
    b.jar.set('msp_oidc', flowCookie!);
    const replay = await b.get(callbackUrl);
    assert.equal(replay.status, 401);
    assert.match(replay.text, /role="alert">This sign-in expired or was already used/);
    assert.ok(!b.jar.has(SESSION_COOKIE));

    // A state that is not the one this browser's sign-in sent.
    const forged = browser();
    const start = await forged.get(`${cp.url}/ui/oidc/start`);
    const authorize = await forged.get(start.location!);
    const url = new URL(authorize.location!);
    url.searchParams.set('state', randomBytes(32).toString('base64url'));
    const refused = await forged.get(url.toString());
    assert.equal(refused.status, 401);
    assert.match(refused.text, /did not come from this browser/);
    assert.ok(!forged.jar.has(SESSION_COOKIE));
    // The real state afterwards finds nothing: a refused attempt uses the sign-in up.
    forged.jar.set('msp_oidc', /msp_oidc=([^;]*)/.exec(forged.setCookies[0] ?? '')![1]!);
    assert.equal((await forged.get(authorize.location!)).status, 401);

    // A callback from another browser (no flow cookie): refused.
    const other = browser();
    const b2 = browser();
    const s2 = await b2.get(`${cp.url}/ui/oidc/start`);
    const a2 = await b2.get(s2.location!);
    const stolen = await other.get(a2.location!);
    assert.equal(stolen.status, 401);
    assert.ok(!other.jar.has(SESSION_COOKIE));
  });

  test('an ID token signed by another key or for another nonce, an unknown or disabled user and an issuer error are refused', async () => {
    idp.user = 'vera@example.com';
    idp.signWithOtherKey = true;
    try {
      const { b, callback } = await signIn();
      assert.equal(callback.status, 401);
      assert.match(callback.text, /an identity MSP cannot trust/);
      assert.ok(!b.jar.has(SESSION_COOKIE));
    } finally {
      idp.signWithOtherKey = false;
    }
    idp.wrongNonce = true;
    try {
      const { b, callback } = await signIn();
      assert.equal(callback.status, 401, 'an ID token for another sign-in (its nonce)');
      assert.match(callback.text, /an identity MSP cannot trust/);
      assert.ok(!b.jar.has(SESSION_COOKIE));
    } finally {
      idp.wrongNonce = false;
    }
    for (const user of ['nobody@example.com', 'dora@example.com']) {
      idp.user = user;
      const { b, callback } = await signIn();
      assert.equal(callback.status, 401, user);
      assert.match(
        callback.text,
        new RegExp(`Signed in as ${user.replace('.', '\\.')}, but MSP has no such user`),
      );
      assert.ok(!b.jar.has(SESSION_COOKIE));
    }
    idp.deny = true;
    try {
      const { callback } = await signIn();
      assert.equal(callback.status, 401);
      assert.match(callback.text, /refused the sign-in \(access_denied\)/);
    } finally {
      idp.deny = false;
    }
    assert.ok(!logs.some((l) => /eyJ[A-Za-z0-9_-]{10,}/.test(l)), 'no token in the log');
    assert.ok(logs.some((l) => l.includes('OIDC sign-in refused: the ID token is not valid')));
  });

  test('without access.oidc there is no button and no flow', async () => {
    const api = () => Promise.resolve(new Response('{}', { status: 401 }));
    for (const app of [
      dashboardApp(api),
      dashboardApp(
        api,
        {},
        { config: () => undefined, secret: () => Promise.resolve(undefined), log: () => undefined },
      ),
    ]) {
      const page = await app.request('/ui/sign-in');
      assert.equal(page.status, 200);
      const text = await page.text();
      assert.match(text, /name="token"/);
      assert.doesNotMatch(text, /oidc|Sign in with/);
      assert.equal((await app.request('/ui/oidc/start')).status, 404);
      assert.equal((await app.request('/ui/oidc/callback?code=x&state=y')).status, 404);
    }
  });
});
