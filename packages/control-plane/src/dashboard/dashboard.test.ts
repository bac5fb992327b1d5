// Over 400 lines: one control plane and one browser shared by every page's test, to keep the suite fast.
/**
 * The dashboard in a real browser (playwright-core driving Debian's chromium) against a real control
 * plane with the local runtime: sign in, promote a release and watch the stage change without reloading,
 * restore a deployment to a time picked on the backups timeline, ask for access to prod as one person and
 * approve it as another on the Access page (and find the approval on the Audit page), an incident on the
 * Alerts page when a service is killed for good (acknowledged, silenced) that clears when it returns, a
 * change that arrives while a live section is refreshing (shown after that refresh), and a viewer who sees
 * no action. One
 * control plane and one browser for the file. MSP_DASHBOARD_SCREENSHOTS=<dir> also saves every page at
 * 1280 px and at phone width (docs/dashboard/).
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { findFreePort } from '@msp/runtime-local';
import { startControlPlane, type ControlPlane } from '../server.js';
import { createLocalRuntime } from '../targets/local/index.js';
import { createBackupsModule } from '../backups/module.js';
import { createRolloutsModule } from '../rollouts/module.js';
import { createAuditModule } from '../audit/index.js';
import { createAccessModule } from '../access/index.js';
import { createAlertsModule } from '../alerts/module.js';
import type { IncidentRow } from '../alerts/store.js';
import { createInstancesModule } from '../instances/module.js';
import {
  createFixtureRepo,
  eventually,
  releaseRegistryDir,
  stageRelease,
  uploadBundle,
  type FixtureRepo,
} from '../testing/fixture-repo.js';
import { localTargetOf } from '../testing/local-target.js';
import { apiAs, findChromium, shoot as shootPage, signIn as signInAs } from './browser.js';
import { createDashboardModule, SESSION_COOKIE } from './index.js';

const chromiumPath = await findChromium((line) => console.log(line));
const skip = typeof chromiumPath === 'string' ? false : chromiumPath.skip;
const shots = process.env.MSP_DASHBOARD_SCREENSHOTS;

describe('dashboard in a browser', { skip }, () => {
  let repo: FixtureRepo;
  let cp: ControlPlane;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const offsite: string[] = [];
  const errors: string[] = [];

  const api = (path: string, body?: unknown) => apiAs(cp, cp.adminToken)(path, body);
  const shoot = (p: Page, name: string) => shootPage(p, shots, name);
  const signIn = (ctx: BrowserContext, token: string) => signInAs(ctx, cp.url, token);

  before(async () => {
    repo = await createFixtureRepo({ name: 'dashboard', envs: ['dev', 'prod'], rollout: true });
    // Alerting at a fiftieth of the time (a 180 s window is 3.6 s), as alerts/alerts.test.ts does.
    const mspYaml = join(repo.dir, 'msp.yaml');
    await writeFile(
      mspYaml,
      `${await readFile(mspYaml, 'utf8')}alerting:\n  timeScale: 0.02\n  sampleIntervalSeconds: 0.5\n`,
    );
    const proxyPort = await findFreePort();
    cp = await startControlPlane({
      repoDir: repo.dir,
      port: await findFreePort(),
      createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort, soakMs: 1000 }),
      modules: [
        createAuditModule(),
        createAccessModule(),
        createRolloutsModule(),
        createBackupsModule({ schedules: false }),
        createAlertsModule(),
        createInstancesModule(),
        createDashboardModule({ streamIntervalMs: 300 }),
      ],
      log: () => undefined,
    });
    browser = await chromium.launch({ executablePath: chromiumPath as string, args: ['--no-sandbox'] });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.on('request', (r) => {
      if (!r.url().startsWith(cp.url) && !r.url().startsWith('data:')) offsite.push(r.url());
    });
    for (const env of ['dev', 'prod']) {
      await eventually(`releaseregistry/${env} healthy`, 120_000, async () =>
        (await cp.store.getDeployment(`releaseregistry/${env}`))?.status === 'healthy' ? true : undefined,
      );
    }
  });

  after(async () => {
    await browser?.close();
    await cp?.stop();
    if (repo) await rm(repo.dir, { recursive: true, force: true });
  });

  test('sign in with a token: a wrong one is refused, the right one shows every deployment, healthy', async () => {
    const p = await context.newPage();
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`${cp.url}/ui/sign-in`);
    if (shots) await shoot(p, 'sign-in');
    await p.getByLabel('Token').fill('msp_not-a-token');
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();

    await p.getByLabel('Token').fill(cp.adminToken);
    await p.keyboard.press('Enter');
    await p.waitForURL(`${cp.url}/`);
    for (const key of ['releaseregistry/dev', 'releaseregistry/prod']) {
      await p.locator(`tr[data-key="${key}"]`).getByText('healthy').first().waitFor();
    }
    await p.getByRole('status').filter({ hasText: /^live/ }).waitFor();
    const cookie = (await context.cookies()).find((c) => c.name === SESSION_COOKIE);
    assert.ok(cookie?.httpOnly, 'the session cookie is HttpOnly');
    assert.equal(cookie?.sameSite, 'Strict');
    assert.equal(await p.evaluate('document.cookie'), '', 'page scripts cannot read the token');
    // The last backup's age arrives by itself (none yet).
    await p.locator('tr[data-key="releaseregistry/dev"] td').nth(5).getByText('none').waitFor();
    // Keyboard: the first Tab reaches "Skip to content".
    await p.keyboard.press('Tab');
    assert.equal(await p.evaluate('document.activeElement?.textContent'), 'Skip to content');
    // Readable at phone width: nothing wider than the screen but scrollable tables.
    await p.setViewportSize({ width: 390, height: 844 });
    assert.ok(await p.evaluate('document.documentElement.scrollWidth <= window.innerWidth + 1'));
    await p.setViewportSize({ width: 1280, height: 800 });
    await p.getByRole('button', { name: 'Reconcile with the platform repo' }).click();
    await p.getByRole('status').filter({ hasText: 'Reconciled with the platform repo' }).waitFor();
    if (shots) await shoot(p, 'overview');
    page = p;
  });

  test('promote a release from the service page and watch the stage change without reloading', async () => {
    const p = page;
    await p.getByRole('link', { name: 'releaseregistry', exact: true }).first().click();
    await p.waitForURL(/\/ui\/services\/releaseregistry$/);
    const dev = p.locator('[data-stage="dev"]');
    const prod = p.locator('[data-stage="prod"]');

    const from = await stageRelease(releaseRegistryDir, join(repo.dir, '.build-v0.2.0'), {
      version: '0.2.0',
    });
    const created = await api('/releases', {
      service: 'releaseregistry',
      version: 'v0.2.0',
      bundle: await uploadBundle(cp, from),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // The delivery to dev shows up live (server-sent events), then the promote button with it.
    await dev.locator('[data-release]').getByText('v0.2.0').waitFor({ timeout: 120_000 });
    await dev.locator('[data-running]').getByText('v0.2.0', { exact: true }).waitFor({ timeout: 120_000 });
    const promote = dev.getByRole('button', { name: 'Promote v0.2.0 to prod' });
    await promote.waitFor({ timeout: 120_000 });
    const navigations: string[] = [];
    await promote.click();
    await p.getByRole('status').filter({ hasText: 'Promoting releaseregistry to prod' }).waitFor();
    p.on('framenavigated', (f) => navigations.push(f.url()));
    await prod.locator('[data-release]').getByText('v0.2.0').waitFor({ timeout: 180_000 });
    await prod.locator('[data-running]').getByText('v0.2.0', { exact: true }).waitFor({ timeout: 180_000 });
    await prod.getByText('healthy').first().waitFor({ timeout: 60_000 });
    assert.deepEqual(navigations, [], 'the stage changed without a reload');
    await p
      .getByRole('cell', { name: /promote/ })
      .first()
      .waitFor();
    if (shots) await shoot(p, 'service');
    // Suspend and resume the pipeline: the promote buttons go and come back.
    await p.getByRole('button', { name: 'Suspend the pipeline' }).click();
    await p.getByRole('status').filter({ hasText: "releaseregistry's pipeline is suspended" }).waitFor();
    await p.getByText('suspended', { exact: true }).first().waitFor();
    await p.getByRole('button', { name: 'Resume the pipeline' }).click();
    await p.getByRole('status').filter({ hasText: "releaseregistry's pipeline is resumed" }).waitFor();
    await p.getByRole('button', { name: 'Suspend the pipeline' }).waitFor();
  });

  test('restore a deployment to a time picked on the backups timeline', async () => {
    const p = page;
    const key = 'releaseregistry/dev';
    await p.goto(`${cp.url}/ui/deployment?key=${encodeURIComponent(key)}`);
    await eventually('no operation running on dev', 120_000, async () =>
      (await cp.store.listOperations({ deploymentKey: key, unfinished: true })).length === 0
        ? true
        : undefined,
    );
    await p.getByRole('button', { name: 'Back up now' }).click();
    const said = await p.locator('main > .notice, main > .error').first().textContent();
    assert.match(said ?? '', new RegExp(`Backing up ${key}`));
    // The operation's progress arrives live on the page; then some WAL is archived after the backup.
    await p
      .locator('tr[data-operation]')
      .filter({ hasText: 'backup' })
      .getByText('succeeded')
      .waitFor({ timeout: 120_000 });
    // A second one, for the sizes chart.
    await p.getByRole('button', { name: 'Back up now' }).click();
    await eventually('two base backups', 120_000, async () => {
      const list = await api(`/backups?deployment=${encodeURIComponent(key)}`);
      const ok = (list.body.backups as Array<{ type: string; status: string }>).filter(
        (b) => b.type === 'base' && b.status === 'succeeded',
      );
      return ok.length >= 2 ? true : undefined;
    });
    const cluster = (await localTargetOf(cp).cluster(key))!;
    const client = new pg.Client(cluster.connectionConfig('admin', 'releaseregistry'));
    await client.connect();
    await client.query(
      'CREATE TABLE IF NOT EXISTS dashboard_marker (n int); INSERT INTO dashboard_marker VALUES (1)',
    );
    await client.query('SELECT pg_switch_wal()');
    await client.end();
    await eventually('a recoverable window that ends after the backup', 60_000, async () => {
      const list = await api(`/backups?deployment=${encodeURIComponent(key)}`);
      const w = list.body.window as { from: string; to: string } | null;
      return w && w.to > w.from ? w : undefined;
    });
    await p.reload();
    const chart = p.locator('#timeline .u-over');
    await chart.waitFor();
    await p.locator('[data-chart="sizes-data"] .u-over').waitFor();
    const box = (await chart.boundingBox())!;
    const input = p.getByLabel('Time (RFC 3339, UTC)');
    // A click in the middle of the timeline picks the time under it (the window fills the middle).
    await chart.click({ position: { x: box.width / 2, y: box.height / 2 } });
    const picked = await input.inputValue();
    assert.match(picked, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const w = JSON.parse((await p.locator('#timeline-data').textContent())!) as {
      window: { from: string; to: string };
    };
    assert.ok(
      Date.parse(picked) >= Date.parse(w.window.from) - 1000 &&
        Date.parse(picked) <= Date.parse(w.window.to) + 1000,
      `${picked} within ${JSON.stringify(w.window)}`,
    );
    await p.getByLabel(/Into a clone named/).fill('dashclone');
    if (shots) await shoot(p, 'deployment');
    const asked: string[] = [];
    p.once('dialog', (d) => {
      asked.push(d.message());
      void d.accept();
    });
    await p.getByRole('button', { name: 'Restore…' }).click();
    await p
      .getByRole('status')
      .filter({ hasText: `Restoring ${key} to ${picked} into dashclone` })
      .waitFor();
    assert.match(asked[0] ?? '', new RegExp(`Restore ${key} to ${picked} into a clone named dashclone`));
    await p
      .locator('tr[data-operation]')
      .filter({ hasText: 'restore' })
      .first()
      .getByText('succeeded')
      .waitFor({ timeout: 180_000 });
    assert.equal((await cp.store.getDeployment('releaseregistry/dashclone'))?.managedBy, 'clone');
    await p
      .locator('tr[data-operation]')
      .filter({ hasText: 'restore' })
      .first()
      .getByRole('link')
      .first()
      .click();
    await p.locator('[data-step]').first().waitFor();
    if (shots) await shoot(p, 'operation');
    await p.getByRole('link', { name: 'Operations' }).click();
    await p.locator('tr[data-operation]').first().waitFor();
    if (shots) await shoot(p, 'operations');
    await cp.runtime.databases.stop('releaseregistry/dashclone');
  });

  test('a destructive action without its confirmation, or from another site, is not done', async () => {
    const p = page;
    const key = 'releaseregistry/dev';
    const form = { deployment: key, back: '/', confirm: '' };
    const r = await p.request.post(`${cp.url}/ui/act/stop`, { form, maxRedirects: 0 });
    assert.equal(r.status(), 303);
    assert.match(
      decodeURIComponent(r.headers().location ?? ''),
      /Not done: confirm that you mean releaseregistry\/dev/,
    );
    const x = await p.request.post(`${cp.url}/ui/act/stop`, {
      form: { ...form, confirm: key },
      headers: { origin: 'http://evil.example' },
      maxRedirects: 0,
    });
    assert.equal(x.status(), 403);
    assert.equal((await cp.store.getDeployment(key))?.desiredState, 'running');
  });

  test('stop asks first naming the deployment; the overview follows its health live', async () => {
    const p = page;
    const key = 'releaseregistry/dev';
    await eventually('no operation running on dev', 120_000, async () =>
      (await cp.store.listOperations({ deploymentKey: key, unfinished: true })).length === 0
        ? true
        : undefined,
    );
    await p.goto(`${cp.url}/ui/deployment?key=${encodeURIComponent(key)}`);
    const asked: string[] = [];
    p.once('dialog', (d) => {
      asked.push(d.message());
      void d.accept();
    });
    await p.getByRole('button', { name: 'Stop' }).click();
    await p
      .getByRole('status')
      .filter({ hasText: `Stopping ${key}` })
      .waitFor();
    assert.match(asked[0] ?? '', /^Stop releaseregistry\/dev\?/);

    await p.goto(`${cp.url}/`);
    const row = p.locator(`tr[data-key="${key}"]`);
    await row.getByText('stopped', { exact: true }).waitFor({ timeout: 60_000 });
    const navigations: string[] = [];
    p.on('framenavigated', (f) => navigations.push(f.url()));
    // Start it again through the API (a deploy already under way, as seen once on a busy machine, does too).
    await eventually('a deploy of dev accepted or under way', 60_000, async () => {
      const r = await api(`/deployments/${encodeURIComponent(key)}/deploy`, {});
      const busy = (r.body.error as { details?: { operation?: { kind?: string } } } | undefined)?.details;
      return r.status === 202 || busy?.operation?.kind === 'deploy' ? true : undefined;
    });
    await row.getByText('healthy', { exact: true }).waitFor({ timeout: 120_000 });
    assert.deepEqual(navigations, [], 'the row changed without a reload');
  });

  test('one person asks for access to prod, another approves it on the Access page; Audit lists it', async () => {
    const person = async (name: string, role: string) => {
      assert.equal((await api('/users', { name, role })).status, 201);
      const t = await api('/tokens', { user: name, expiresIn: '1h', label: 'dashboard test' });
      assert.equal(t.status, 201, JSON.stringify(t.body));
      return t.body.token as string;
    };
    const [alice, bob] = [await person('alice', 'operator'), await person('bob', 'admin')];
    const [ctxA, ctxB] = [await browser.newContext(), await browser.newContext()];
    try {
      const b = await signIn(ctxB, bob);
      await b.getByRole('link', { name: 'Access' }).click();
      await b.waitForURL(/\/ui\/access$/);
      await b.getByRole('status').filter({ hasText: /^live/ }).waitFor();
      const a = await signIn(ctxA, alice);
      await a.goto(`${cp.url}/ui/access`);
      await a.getByLabel(/^Target/).fill('releaseregistry');
      await a.getByLabel('Environment').fill('prod');
      await a.getByLabel('Reason').fill('look into slow checkouts');
      await a.getByRole('button', { name: 'Ask for access' }).click();
      await a.getByRole('status').filter({ hasText: 'waits for approval' }).waitFor();
      assert.equal(await a.getByRole('button', { name: 'Approve' }).count(), 0, 'not on her own request');
      // The request arrives on bob's page by itself; he approves it.
      const pending = b.locator('tr[data-status="pending"]').filter({ hasText: 'alice' });
      await pending.waitFor();
      if (shots) await shoot(b, 'access');
      await pending.getByRole('button', { name: 'Approve' }).click();
      await b
        .getByRole('status')
        .filter({ hasText: "Approved alice's access to releaseregistry in prod" })
        .waitFor();
      await b
        .locator('tr[data-status="approved"]')
        .filter({ hasText: 'alice' })
        .getByText('active')
        .waitFor();
      const grants = await api('/access/requests?status=approved');
      assert.deepEqual(
        (
          grants.body.requests as Array<{ requester: string; environment: string; approverRoles: string[] }>
        ).map((r) => `${r.requester}@${r.environment} by ${r.approverRoles.join('|')}`),
        ['alice@prod by admin'],
      );
      // Revoke asks first, naming the target; the grant ends.
      const asked: string[] = [];
      b.once('dialog', (d) => {
        asked.push(d.message());
        void d.accept();
      });
      await b.getByRole('button', { name: 'Revoke…' }).click();
      await b.getByRole('status').filter({ hasText: "Revoked alice's access" }).waitFor();
      assert.match(asked[0] ?? '', /^Revoke alice's operate access to releaseregistry in prod now\?/);
      await b.locator('tr[data-status="revoked"]').filter({ hasText: 'alice' }).waitFor();
      // An approver's own request: the API refuses, and the page says why.
      const own = await fetch(`${cp.url}/api/v1/access/requests`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bob}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          target: 'releaseregistry',
          environment: 'prod',
          role: 'db-read',
          duration: '30m',
          reason: 'own',
        }),
      });
      const ownId = ((await own.json()) as { id: string }).id;
      const refused = await b.request.post(`${cp.url}/ui/act/approve`, {
        form: {
          id: ownId,
          requester: 'bob',
          target: 'releaseregistry',
          environment: 'prod',
          back: '/ui/access',
        },
      });
      assert.match(await refused.text(), /bob cannot approve their own request/);
      // The Audit page lists the approval, by actor.
      await b.goto(`${cp.url}/ui/audit`);
      await b.getByLabel('Actor').fill('bob');
      await b.getByRole('button', { name: 'Filter' }).click();
      await b.waitForURL(/actor=bob/);
      await b.locator('tr[data-action="access.approve"]').first().waitFor();
      assert.equal(await b.locator('tr[data-seq]').filter({ hasNotText: 'bob' }).count(), 0);
      await b.locator('#audit-verify').getByText('intact').waitFor();
      if (shots) await shoot(b, 'audit');
    } finally {
      await ctxA.close();
      await ctxB.close();
    }
  });

  test('a service killed for good: its incident shows live on the Alerts page, is acked and silenced, clears when it returns', async () => {
    const p = page;
    const key = 'releaseregistry/prod';
    const open = async () =>
      (await api(`/alerts/incidents?deployment=${encodeURIComponent(key)}`)).body.incidents as IncidentRow[];
    await eventually('no open incident on prod', 90_000, async () =>
      (await open()).length === 0 ? true : undefined,
    );
    await p.goto(`${cp.url}/ui/alerts`);
    await p.getByRole('status').filter({ hasText: /^live/ }).waitFor();
    const navigations: string[] = [];
    const onNav = (f: { url(): string }) => navigations.push(f.url());
    p.on('framenavigated', onNav);
    await cp.runtime.workloads.stop(key);
    // First the alert itself (the API), then the page showing it live.
    await eventually('an open incident on prod', 90_000, async () =>
      (await open()).length > 0 ? true : undefined,
    );
    const row = p.locator(`tr[data-incident][data-deployment="${key}"]`).first();
    await row.waitFor({ timeout: 30_000 });
    await row.getByText('CRITICAL').waitFor();
    assert.deepEqual(navigations, [], 'the incident arrived without a reload');
    p.off('framenavigated', onNav);
    // The overview counts it on the deployment's row.
    await p.goto(`${cp.url}/`);
    await p.locator(`tr[data-key="${key}"] [data-incidents]`).waitFor();
    await p.goto(`${cp.url}/ui/alerts`);
    await row.getByRole('button', { name: 'Acknowledge' }).click();
    await p.getByRole('status').filter({ hasText: 'Acknowledged incident' }).waitFor();
    await row.getByText('admin').waitFor();
    await p.getByLabel('Service (or *)').fill('releaseregistry');
    await p.getByLabel('Environment (or *)').fill('prod');
    await p.getByLabel('Reason').fill('planned maintenance');
    await p.getByRole('button', { name: 'Silence', exact: true }).click();
    await p.getByRole('status').filter({ hasText: 'Silenced * for releaseregistry/prod' }).waitFor();
    const silence = p.locator('tr[data-silence]').filter({ hasText: 'planned maintenance' });
    await silence.waitFor();
    if (shots) await shoot(p, 'alerts');
    const id = await silence.getAttribute('data-silence');
    const asked: string[] = [];
    p.once('dialog', (d) => {
      asked.push(d.message());
      void d.accept();
    });
    await silence.getByRole('button', { name: 'End…' }).click();
    await p
      .getByRole('status')
      .filter({ hasText: `Silence ${id} ended` })
      .waitFor();
    assert.match(asked[0] ?? '', new RegExp(`^End silence ${id} \\(\\* for releaseregistry/prod\\)`));
    // Back: the incident leaves the page by itself.
    // (The reconciler may be redeploying it already, having seen it stopped: that brings it back too.)
    const deploy = await api(`/deployments/${encodeURIComponent(key)}/deploy`, {});
    const busyWith = (deploy.body as { error?: { details?: { operation?: { kind?: string } } } }).error
      ?.details?.operation?.kind;
    assert.ok(
      deploy.status === 202 || (deploy.status === 409 && busyWith === 'deploy'),
      JSON.stringify(deploy.body),
    );
    await p
      .locator(`tr[data-incident][data-deployment="${key}"]`)
      .waitFor({ state: 'detached', timeout: 120_000 });
    // The deployment page charts its stored signals.
    await p.goto(`${cp.url}/ui/deployment?key=${encodeURIComponent(key)}`);
    await p.locator('[data-chart="usage-data"] .u-over').waitFor();
    if (shots) await shoot(p, 'deployment-signals');
    await p.getByRole('link', { name: 'Fleets' }).click();
    await p.waitForURL(/\/ui\/fleets$/);
    if (shots) await shoot(p, 'fleets');
  });

  test('a change that arrives while a live section is refreshing shows too: that refresh runs after it', async () => {
    assert.equal((await api('/users', { name: 'carol', role: 'operator' })).status, 201);
    const t = await api('/tokens', { user: 'carol', expiresIn: '1h', label: 'dashboard test' });
    const carol = t.body.token as string;
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const p = await signIn(ctx, cp.adminToken);
      await p.goto(`${cp.url}/ui/access`);
      await p.getByRole('status').filter({ hasText: /^live/ }).waitFor();
      // Every live refresh of the page reads at once and answers 2 s later: a slow control plane.
      let read = 0;
      await p.route(`${cp.url}/ui/access`, async (route) => {
        if (!route.request().headers()['hx-request']) return route.continue();
        const response = await route.fetch();
        read += 1;
        await new Promise((r) => setTimeout(r, 2000));
        await route.fulfill({ response });
      });
      await p.evaluate(`htmx.trigger(document.body, 'msp:access')`);
      await eventually('a refresh that has read the page', 10_000, () =>
        Promise.resolve(read >= 1 ? true : undefined),
      );
      // A request arrives now: the stream says so (every 300 ms) while that refresh is still in flight.
      const asked = await apiAs(cp, carol)('/access/requests', {
        target: 'releaseregistry',
        environment: 'prod',
        role: 'db-read',
        duration: '30m',
        reason: 'arrived during a refresh',
      });
      assert.equal(asked.status, 201, JSON.stringify(asked.body));
      await p
        .locator('tr[data-status="pending"]')
        .filter({ hasText: 'arrived during a refresh' })
        .waitFor({ timeout: 15_000 });
    } finally {
      await ctx.close();
    }
  });

  test('a viewer sees every page and no action button', async () => {
    await cp.store.addToken('viewer-1', 'msp_viewer-token-for-test', 'viewer');
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const p = await signIn(ctx, 'msp_viewer-token-for-test');
      await p.getByText('viewer-1').waitFor();
      for (const path of [
        '/',
        '/ui/services/releaseregistry',
        `/ui/deployment?key=${encodeURIComponent('releaseregistry/dev')}`,
        '/ui/operations',
        '/ui/access',
        '/ui/audit',
        '/ui/alerts',
        '/ui/fleets',
      ]) {
        await p.goto(`${cp.url}${path}`);
        await p.locator('#live').waitFor();
        assert.equal(await p.locator('form[action^="/ui/act/"]').count(), 0, `no action on ${path}`);
      }
    } finally {
      await ctx.close();
    }
    assert.deepEqual(offsite, [], 'no request left the control plane');
    assert.deepEqual(errors, [], 'no script error');
  });
});
