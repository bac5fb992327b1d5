/**
 * Managed instances in a real browser (playwright-core driving Debian's chromium) against a real control
 * plane with the local runtime and three instances of examples/sampleproduct: restore an instance in place
 * to a time picked on its backups timeline (a marker note written through the product after that time is
 * gone, the notes from before are there), and a fleet upgrade in two rings (internal, customer) followed on
 * the open fleet page without reloading, ring by ring, to its end. One control plane and one browser for the
 * file. MSP_DASHBOARD_SCREENSHOTS=<dir> also saves the instance and the fleet in progress at both widths.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { findFreePort } from '@msp/runtime-local';
import { startControlPlane, type ControlPlane } from '../server.js';
import { createLocalRuntime } from '../targets/local/index.js';
import { createBackupsModule } from '../backups/module.js';
import { createRolloutsModule } from '../rollouts/module.js';
import { createInstancesModule } from '../instances/module.js';
import type { Fleet } from '../instances/fleet.js';
import { createInstanceRepo, registerSampleReleases } from '../instances/test-support.js';
import { eventually, requestVia } from '../testing/fixture-repo.js';
import { localTargetOf } from '../testing/local-target.js';
import { apiAs, findChromium, shoot, signIn } from './browser.js';
import { createDashboardModule } from './index.js';

const chromiumPath = await findChromium((line) => console.log(line));
const skip = typeof chromiumPath === 'string' ? false : chromiumPath.skip;
const shots = process.env.MSP_DASHBOARD_SCREENSHOTS;

/** The instances: one internal (ring 1), a trial (in dev: a TTL is for test environments) and a production customer (ring 2). */
const INSTANCES = [
  { id: 'int-demo', env: 'prod', customer: 'demo', type: 'internal' },
  { id: 'trial-t', env: 'dev', customer: 'tango', type: 'trial', ttl: '2h' },
  { id: 'cust-a', env: 'prod', customer: 'alpha', type: 'production' },
] as const;

describe('instances and fleets in a browser', { skip }, () => {
  let repo: { dir: string };
  let proxyPort: number;
  let cp: ControlPlane;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  const api = (path: string, body?: unknown) => apiAs(cp, cp.adminToken)(path, body);
  /** Each instance's host name (the default depends on its customer and environment). */
  const domains = new Map<string, string>();
  const product = (id: string, path: string, init?: { method?: string; body?: string }) =>
    requestVia(proxyPort, domains.get(id)!, path, init);
  const notes = async (id: string) => {
    const r = await product(id, '/api/notes');
    assert.equal(r.status, 200, r.text);
    return r.json<Array<{ body: string }>>().map((n) => n.body);
  };
  const note = async (id: string, body: string) => {
    const r = await product(id, '/api/notes', { method: 'POST', body: JSON.stringify({ body }) });
    assert.equal(r.status, 201, r.text);
  };

  before(async () => {
    repo = await createInstanceRepo([
      '  soak: 3s',
      '  rings:',
      '    - { name: internal, internal: 100 }',
      '    - { name: customer, trial: 100, production: 100 }',
    ]);
    proxyPort = await findFreePort();
    cp = await startControlPlane({
      repoDir: repo.dir,
      port: await findFreePort(),
      createRuntime: (deps) => createLocalRuntime({ ...deps, proxyPort, soakMs: 300 }),
      modules: [
        createRolloutsModule(),
        createBackupsModule({ schedules: false }),
        createInstancesModule({ fleetTickMs: 300 }),
        createDashboardModule({ streamIntervalMs: 300 }),
      ],
      reconcile: false,
      log: () => undefined,
    });
    const token = (await cp.store.getSecret('control-plane', 'registry-token'))!;
    const [launched] = await Promise.all([
      chromium.launch({ executablePath: chromiumPath as string, args: ['--no-sandbox'] }),
      registerSampleReleases(cp, token, [
        { version: 'v1.0.0', publish: true },
        { version: 'v1.1.0', publish: true },
      ]),
    ]);
    browser = launched;
    const ops = await Promise.all(
      INSTANCES.map(async (i) => {
        const r = await api('/instances', { ...i, version: 'v1.0.0' });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        return (await cp.engine.waitFor(String(r.body.id), 300_000))!;
      }),
    );
    for (const op of ops) assert.equal(op.status, 'succeeded', `${op.deploymentKey}: ${op.error}`);
    for (const i of INSTANCES) {
      const shown = (await api(`/instances/${i.env}/${i.id}`)).body.instance as { domain: string };
      domains.set(i.id, shown.domain);
    }
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await signIn(context, cp.url, cp.adminToken);
    page.on('pageerror', (e) => errors.push(e.message));
  });

  after(async () => {
    await browser?.close();
    await cp?.stop();
    if (repo) await rm(repo.dir, { recursive: true, force: true });
  });

  test('restore an instance in place to a time picked on its timeline: the marker written after it is gone', async () => {
    const p = page;
    const key = 'instance/dev/trial-t';
    await note('trial-t', 'before the backup');
    await p.goto(`${cp.url}/ui/deployment?key=${encodeURIComponent(key)}`);
    // The instance panel: version, type, customer, TTL.
    const panel = p.locator('#instance');
    for (const text of ['v1.0.0', 'trial', 'tango', '2h']) {
      await panel.locator('.card .v').getByText(text, { exact: true }).waitFor();
    }
    await panel.getByText(/expires/).waitFor();
    await p.getByRole('status').filter({ hasText: /^live/ }).waitFor();
    await p.getByRole('button', { name: 'Back up now' }).click();
    await p
      .getByRole('status')
      .filter({ hasText: `Backing up ${key}` })
      .waitFor();
    // The backup's progress arrives live.
    await p
      .locator('tr[data-operation]')
      .filter({ hasText: 'backup' })
      .getByText('succeeded')
      .waitFor({ timeout: 120_000 });

    await note('trial-t', 'after the backup');
    const kept = Date.now();
    // A gap of whole seconds between the last note kept and the marker: the timeline picks whole seconds.
    await eventually('four seconds after the kept note', 10_000, () =>
      Promise.resolve(Date.now() >= kept + 4000 ? true : undefined),
    );
    const markerFrom = Date.now();
    await note('trial-t', 'MARKER: written after the restore point');
    assert.deepEqual(await notes('trial-t'), [
      'before the backup',
      'after the backup',
      'MARKER: written after the restore point',
    ]);
    const cluster = (await localTargetOf(cp).cluster(key))!;
    const client = new pg.Client(cluster.connectionConfig('admin', 'sampleproduct'));
    await client.connect();
    await client.query('SELECT pg_switch_wal()');
    await client.end();
    await eventually('a recoverable window past the marker', 60_000, async () => {
      const w = (await api(`/backups?deployment=${encodeURIComponent(key)}`)).body.window as {
        to: string;
      } | null;
      return w && Date.parse(w.to) >= markerFrom ? w : undefined;
    });

    await p.reload();
    // Click the timeline at the middle of the gap: after the kept note, before the marker.
    const pick = async (seconds: number) => {
      const chart = p.locator('#timeline .u-over');
      await chart.waitFor();
      const holder = p.locator('#timeline');
      const lo = Number(await holder.getAttribute('data-x-min'));
      const hi = Number(await holder.getAttribute('data-x-max'));
      const box = (await chart.boundingBox())!;
      await chart.click({ position: { x: ((seconds - lo) / (hi - lo)) * box.width, y: box.height / 2 } });
      return p.getByLabel('Time (RFC 3339, UTC)').inputValue();
    };
    const target = (kept + markerFrom) / 2000;
    const picked = await pick(target);
    assert.match(picked, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(
      Date.parse(picked) > kept && Date.parse(picked) < markerFrom,
      `${picked} between ${new Date(kept).toISOString()} and ${new Date(markerFrom).toISOString()}`,
    );

    // In place, the name is typed: a wrong one is refused by the server, nothing is restored.
    const asked: string[] = [];
    p.once('dialog', (d) => {
      asked.push(`${d.type()}: ${d.message()}`);
      void d.accept('trial-t');
    });
    await p.getByRole('button', { name: 'Restore…' }).click();
    await p
      .getByRole('alert')
      .filter({ hasText: `Not done: confirm that you mean ${key}` })
      .waitFor();
    assert.match(asked[0] ?? '', new RegExp(`^prompt: Restore ${key} to ${picked} in place\\?`));
    assert.match(asked[0] ?? '', new RegExp(`Type ${key} to confirm`));
    assert.equal((await cp.store.listOperations({ deploymentKey: key, unfinished: true })).length, 0);

    // The page came back with the restore form reset: pick the same time again, type the right name.
    assert.equal(await pick(target), picked);
    p.once('dialog', (d) => void d.accept(key));
    await p.getByRole('button', { name: 'Restore…' }).click();
    await p
      .getByRole('status')
      .filter({ hasText: `Restoring ${key} to ${picked} in place` })
      .waitFor();
    const row = p.locator('tr[data-operation]').filter({ hasText: 'restore' }).first();
    // The restore's own outcome first (with its log when it failed), then the page showing it live.
    const restore = await eventually('the restore to finish', 240_000, async () => {
      const [op] = (await cp.store.listOperations({ deploymentKey: key, limit: 20 })).filter(
        (o) => o.kind === 'restore',
      );
      return op && (op.status === 'succeeded' || op.status === 'failed') ? op : undefined;
    });
    if (restore.status !== 'succeeded') {
      const log = (await cp.store.readLog(restore.id)).map((l) => l.message).join('\n');
      assert.fail(`the restore ${restore.status}: ${restore.error ?? ''}\n${log}`);
    }
    await row.getByText('succeeded').waitFor({ timeout: 30_000 });
    // Through the product: the marker is gone, what came before it is there.
    const after = await eventually('the product serving again', 60_000, async () => {
      const r = await product('trial-t', '/api/notes').catch(() => undefined);
      return r?.status === 200 ? r.json<Array<{ body: string }>>().map((n) => n.body) : undefined;
    });
    assert.deepEqual(after, ['before the backup', 'after the backup']);
    // The timeline marks the time the instance went back to.
    await p.goto(`${cp.url}/ui/deployment?key=${encodeURIComponent(key)}`);
    await p.locator('#timeline .u-over').waitFor();
    const drawn = JSON.parse((await p.locator('#timeline-data').textContent())!) as {
      restores: Array<{ to: string; into: string | null }>;
    };
    assert.deepEqual(
      drawn.restores.map((r) => [Date.parse(r.to), r.into]),
      [[Date.parse(picked), null]],
    );
    await p.locator('#timeline').getByText('restored to').waitFor();
    if (shots) await shoot(p, shots, 'instance');
  });

  test('a fleet upgrade in two rings, followed live on its page: internal first, then customers, to the end', async (t) => {
    const p = page;
    await p.goto(`${cp.url}/ui/fleets`);
    await p.getByRole('status').filter({ hasText: /^live/ }).waitFor();
    const started = await api('/fleets', { to: 'v1.1.0', concurrency: 2, soak: '3s' });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const id = (started.body.fleet as Fleet).id;
    // The new fleet appears on the list by itself.
    await p.locator(`tr[data-fleet="${id}"]`).getByRole('link', { name: id }).click();
    await p.waitForURL(new RegExp(`/ui/fleets/${id}$`));
    await p.getByRole('status').filter({ hasText: /^live/ }).waitFor();
    await p.getByRole('heading', { name: 'Ring 1: internal' }).waitFor();
    await p.getByRole('heading', { name: 'Ring 2: customer' }).waitFor();
    const navigations: string[] = [];
    const onNav = (f: { url(): string }) => navigations.push(f.url());
    p.on('framenavigated', onNav);

    // What the page shows, polled from the DOM: the fleet's status and every instance's state.
    type Seen = { status: string; states: Record<string, string> };
    const seen: Seen[] = [];
    // One evaluation, so a snapshot never straddles a swap of the live section.
    const look = async () =>
      p.evaluate<Seen>(`({
        status: document.querySelector('[data-fleet-status]')?.getAttribute('data-fleet-status') ?? '',
        states: Object.fromEntries(
          [...document.querySelectorAll('tr[data-member]')].map((r) => [
            r.getAttribute('data-member').replace(/^instance\\/[^/]+\\//, ''),
            r.getAttribute('data-state'),
          ]),
        ),
      })`);
    let shot = false;
    const last = await eventually('the fleet page to show it succeeded', 240_000, async () => {
      const s = await look();
      if (JSON.stringify(s) !== JSON.stringify(seen.at(-1))) seen.push(s);
      if (!shot && shots && s.states['cust-a'] === 'running') {
        shot = true;
        await shoot(p, shots, 'fleet-progress');
      }
      return s.status === 'succeeded' ? s : undefined;
    });
    p.off('framenavigated', onNav);
    assert.deepEqual(navigations, [], 'the page changed without a reload');
    const story = seen.map((s) => `${s.status}: ${JSON.stringify(s.states)}`).join('\n');
    t.diagnostic(`the fleet page showed, in order:\n${story}`);
    assert.deepEqual(last.states, { 'int-demo': 'succeeded', 'cust-a': 'succeeded', 'trial-t': 'succeeded' });
    // Each instance went pending (customers) → running → succeeded, in that order, nothing else.
    const path = (i: string) => seen.map((s) => s.states[i]).filter((v, n, a) => n === 0 || v !== a[n - 1]);
    assert.deepEqual(path('int-demo').slice(-2), ['running', 'succeeded'], story);
    for (const c of ['trial-t', 'cust-a'])
      assert.deepEqual(path(c), ['pending', 'running', 'succeeded'], story);
    // Ring 1 was seen done while ring 2 had not started (the soak between them), and no customer ran before.
    const ring1Done = seen.findIndex((s) => s.states['int-demo'] === 'succeeded');
    assert.ok(ring1Done >= 0, story);
    assert.equal(seen[ring1Done]!.states['trial-t'], 'pending', story);
    assert.equal(seen[ring1Done]!.states['cust-a'], 'pending', story);
    assert.ok(
      seen
        .slice(0, ring1Done)
        .every((s) => s.states['trial-t'] === 'pending' && s.states['cust-a'] === 'pending'),
      story,
    );
    await p.locator('.card .v').getByText('3/3').waitFor();
    // The API agrees, and the instances run the new version.
    const f = (await api(`/fleets/${id}`)).body as unknown as Fleet;
    assert.equal(f.status, 'succeeded');
    for (const i of INSTANCES) assert.match((await product(i.id, '/')).text, /v1\.1\.0/);
    assert.deepEqual(errors, [], 'no script error');
  });
});
