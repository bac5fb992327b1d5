#!/usr/bin/env node
/**
 * Issue 15 benchmark: first paint of the dashboard's overview with 200 deployments, and its payload.
 * A real control plane (embedded PostgreSQL, the dashboard module) on a runtime target that runs nothing
 * (the tests' fake target: the page, not the workloads, is measured), 200 deployment rows in the state
 * store, and Debian's chromium through playwright-core, signed in with the admin token. Run from the repo
 * root after `npm run build`: `node bench/dashboard.mjs [runs]`. Prints a Markdown table for RESULTS.md.
 */
import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { rm } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { findFreePort } from '../packages/runtime-local/dist/index.js';
import { startControlPlane } from '../packages/control-plane/dist/server.js';
import { createDashboardModule } from '../packages/control-plane/dist/dashboard/index.js';
import { createBackupsModule } from '../packages/control-plane/dist/backups/module.js';
import { findChromium } from '../packages/control-plane/dist/dashboard/browser.js';
import { fakeTargetFactory } from '../packages/control-plane/dist/testing/fake-target.js';
import { createFixtureRepo } from '../packages/control-plane/dist/testing/fixture-repo.js';

/* global fetch */
const RUNS = Number(process.argv[2] ?? 7);
const DEPLOYMENTS = 200;
const log = (m) => process.stderr.write(`[bench] ${m}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const executablePath = await findChromium(log);
if (typeof executablePath !== 'string') {
  console.error(executablePath.skip);
  process.exit(1);
}
log('starting a control plane');
const repo = await createFixtureRepo({ name: 'bench-dashboard' });
const cp = await startControlPlane({
  repoDir: repo.dir,
  port: await findFreePort(),
  targets: { local: fakeTargetFactory('local') },
  modules: [createBackupsModule({ schedules: false }), createDashboardModule()],
  reconcile: false,
  log: () => undefined,
});
log('control plane up');
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
try {
  for (let i = 0; i < DEPLOYMENTS; i++) {
    const service = `svc${String(i).padStart(3, '0')}`;
    for (const environment of i % 2 === 0 ? ['dev'] : ['prod']) {
      await cp.store.upsertDeployment({
        key: `${service}/${environment}`,
        kind: 'service',
        service,
        environment,
        spec: {},
        specHash: `h${i}`,
      });
    }
  }
  log(`${DEPLOYMENTS} deployments stored`);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${cp.url}/ui/sign-in`);
  await page.getByLabel('Token').fill(cp.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${cp.url}/`);
  const rows = await page.locator('tr[data-key]').count();
  if (rows !== DEPLOYMENTS) throw new Error(`the overview shows ${rows} rows, not ${DEPLOYMENTS}`);

  const paints = [];
  const responses = [];
  let sizes;
  for (let run = 0; run < RUNS; run++) {
    await page.goto('about:blank');
    await page.goto(`${cp.url}/`, { waitUntil: 'load' });
    const m = await page.evaluate(`(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      return {
        fcp: fcp ? fcp.startTime : null,
        responseEnd: nav.responseEnd,
        html: nav.encodedBodySize,
        htmlDecoded: nav.decodedBodySize,
        htmlTransfer: nav.transferSize,
        assets: performance.getEntriesByType('resource')
          .filter((r) => r.initiatorType === 'script' || r.initiatorType === 'link')
          .reduce((n, r) => n + r.encodedBodySize, 0),
      };
    })()`);
    if (m.fcp !== null) paints.push(m.fcp);
    responses.push(m.responseEnd);
    sizes = m;
  }
  const cookie = (await context.cookies()).find((c) => c.name === 'msp_session');
  const server = [];
  for (let run = 0; run < RUNS; run++) {
    const t = performance.now();
    const res = await fetch(`${cp.url}/`, { headers: { cookie: `msp_session=${cookie.value}` } });
    await res.text();
    server.push(performance.now() - t);
  }
  const f = (ms) => `${Math.round(ms)} ms`;
  console.log(
    `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}; ${RUNS} runs, medians.\n`,
  );
  console.log('| overview, 200 deployments | median | runs |');
  console.log('| --- | --- | --- |');
  console.log(
    `| first contentful paint (chromium, navigation start → paint) | ${f(median(paints))} | ${paints.map(f).join(', ')} |`,
  );
  console.log(
    `| HTML received (navigation start → responseEnd) | ${f(median(responses))} | ${responses.map(f).join(', ')} |`,
  );
  console.log(
    `| server: GET / rendered (fetch from Node) | ${f(median(server))} | ${server.map(f).join(', ')} |`,
  );
  console.log(
    `\nPayload: HTML ${(sizes.htmlDecoded / 1024).toFixed(1)} KiB, ${(sizes.html / 1024).toFixed(1)} KiB gzipped (transferred with headers ${(sizes.htmlTransfer / 1024).toFixed(1)} KiB), scripts and styles ${(sizes.assets / 1024).toFixed(1)} KiB (cached after the first page).`,
  );
} finally {
  await browser.close();
  await cp.stop();
  await rm(repo.dir, { recursive: true, force: true });
}
// The embedded PostgreSQL's and chromium's pipes can keep the loop alive for a while: the numbers are out.
process.exit(0);
