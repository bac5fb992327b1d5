#!/usr/bin/env node
/* global fetch */
// Issue 13 benchmark: what people and the audit trail cost.
//  1. API latency: the same cheap GET /api/v1/info, sequentially, against a control plane as it was (no access
//     or audit module, the single admin token) and against one with both modules and a per-user token.
//     p50/p99 of each and the p99 overhead.
//  2. Audit append: records/s appended one after another, and with 8 writers at once (one chain, serialised).
//  3. `audit verify` of 10^6 records (written straight into the table, chained, in batches).
//
//   npm run build && node bench/access.mjs [--requests 3000] [--appends 2000] [--records 1000000] [--no-write]
import { chmod, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, totalmem, tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';

const cp = (p) => new URL(`../packages/control-plane/dist/${p}`, import.meta.url).href;
const { startControlPlane } = await import(cp('server.js'));
const { createAccessModule } = await import(cp('access/index.js'));
const { createAuditModule, createAuditLog, hashOf } = await import(cp('audit/index.js'));
const { fakeTargetFactory } = await import(cp('testing/fake-target.js'));
const { createDb } = await import(cp('state/db.js'));
const { findFreePort } = await import('@msp/runtime-local');

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '3000' },
    appends: { type: 'string', default: '2000' },
    records: { type: 'string', default: '1000000' },
    'no-write': { type: 'boolean', default: false },
  },
});
const N = Number(args.requests);

async function repo() {
  const dir = await mkdtemp(join(tmpdir(), 'msp-bench-access-'));
  await chmod(dir, 0o711);
  await writeFile(
    join(dir, 'msp.yaml'),
    'organization: { name: Bench }\nbaseDomain: bench.localhost\nenvironments:\n  - { id: dev, category: test }\n',
  );
  await mkdir(join(dir, 'services'));
  return dir;
}

async function start(modules) {
  const dir = await repo();
  const plane = await startControlPlane({
    repoDir: dir,
    port: await findFreePort(),
    targets: { local: fakeTargetFactory('local') },
    modules,
    reconcile: false,
    log: () => undefined,
  });
  return { plane, dir };
}

/** Sequential GETs, interleaved over the targets so machine load falls on each alike: p50/p99 per target. */
async function latencies(targets) {
  const get = ({ url, token }) =>
    fetch(`${url}/api/v1/info`, { headers: { authorization: `Bearer ${token}` } });
  for (let i = 0; i < 300; i++) for (const t of targets) await (await get(t)).arrayBuffer(); // warm up
  const times = targets.map(() => []);
  for (let i = 0; i < N; i++) {
    for (const [k, t] of targets.entries()) {
      const t0 = process.hrtime.bigint();
      const res = await get(t);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      times[k].push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  return times.map((list) => {
    list.sort((x, y) => x - y);
    const at = (q) => list[Math.min(list.length - 1, Math.floor(q * list.length))];
    return { p50: at(0.5), p99: at(0.99) };
  });
}

const results = {};

// 1. today's single-token check vs per-user tokens with the access and audit modules, side by side
{
  const before = await start([]);
  const after = await start([createAuditModule(), createAccessModule()]);
  const h = { authorization: `Bearer ${after.plane.adminToken}`, 'content-type': 'application/json' };
  await fetch(`${after.plane.url}/api/v1/users`, {
    method: 'POST',
    headers: h,
    body: JSON.stringify({ name: 'alice', role: 'viewer' }),
  });
  const created = await (
    await fetch(`${after.plane.url}/api/v1/tokens`, {
      method: 'POST',
      headers: h,
      body: JSON.stringify({ user: 'alice' }),
    })
  ).json();
  [results.before, results.userToken, results.bootstrapWithModules] = await latencies([
    { url: before.plane.url, token: before.plane.adminToken },
    { url: after.plane.url, token: created.token },
    { url: after.plane.url, token: after.plane.adminToken },
  ]);
  await before.plane.stop();
  await rm(before.dir, { recursive: true, force: true });

  // 2. audit appends
  const db = createDb(after.plane.store.pool);
  const log = createAuditLog(db);
  const A = Number(args.appends);
  let t0 = performance.now();
  for (let i = 0; i < A; i++)
    await log.append({ actor: 'bench', action: 'bench.append', target: 'x', data: { i } });
  results.appendSequential = A / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < A / 8; i++)
        await log.append({ actor: `w${w}`, action: 'bench.append', data: { i } });
    }),
  );
  results.appendConcurrent = A / ((performance.now() - t0) / 1000);

  // 3. verify of 10^6 records: the chain continued straight into the table in batches of 10 000.
  const R = Number(args.records);
  let { seq, hash } = await log.head();
  const at = new Date().toISOString();
  t0 = performance.now();
  while (seq < R) {
    const batch = [];
    for (let i = 0; i < 10_000 && seq < R; i++) {
      seq += 1;
      const r = {
        seq,
        at,
        actor: 'bench',
        action: 'bench.bulk',
        target: `t${seq}`,
        data: { n: seq },
        prevHash: hash,
      };
      hash = hashOf(r);
      batch.push({ ...r, hash });
    }
    await after.plane.store.pool.query(
      `insert into audit_log (seq, at, actor, action, target, data, prev_hash, hash)
       select * from unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[], $8::text[])`,
      [
        batch.map((r) => r.seq),
        batch.map((r) => r.at),
        batch.map((r) => r.actor),
        batch.map((r) => r.action),
        batch.map((r) => r.target),
        batch.map((r) => JSON.stringify(r.data)),
        batch.map((r) => r.prevHash),
        batch.map((r) => r.hash),
      ],
    );
  }
  results.fillSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const verified = await log.verify();
  results.verifySeconds = (performance.now() - t0) / 1000;
  results.verified = verified;
  await after.plane.stop();
  await rm(after.dir, { recursive: true, force: true });
}

const f = (x) => x.toFixed(2);
const lines = [
  `| GET /api/v1/info, ${N} sequential requests            | p50 ms | p99 ms |`,
  '| ----------------------------------------------------- | ------ | ------ |',
  `| before: no access/audit modules, the admin token      | ${f(results.before.p50)} | ${f(results.before.p99)} |`,
  `| access + audit modules, a per-user token              | ${f(results.userToken.p50)} | ${f(results.userToken.p99)} |`,
  `| access + audit modules, the bootstrap admin token     | ${f(results.bootstrapWithModules.p50)} | ${f(results.bootstrapWithModules.p99)} |`,
  '',
  `p99 overhead of per-user token checks: ${f(results.userToken.p99 - results.before.p99)} ms ` +
    `(p50 ${f(results.userToken.p50 - results.before.p50)} ms).`,
  '',
  `Audit append: ${Math.round(results.appendSequential)} records/s one after another, ` +
    `${Math.round(results.appendConcurrent)} records/s with 8 writers (one chain, serialised by an advisory lock).`,
  `audit verify of ${results.verified.records} records: ${f(results.verifySeconds)} s ` +
    `(${results.verified.ok ? 'intact' : 'BROKEN'}; writing them took ${f(results.fillSeconds)} s).`,
];
console.log(lines.join('\n'));

if (!args['no-write']) {
  const file = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const section = [
    '## Issue 13: people, token checks and the audit log',
    '',
    `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ` +
      `embedded PostgreSQL state database. **Shared**: other work ran beside it (load average ${loadavg()[0].toFixed(1)} at the end). ` +
      `Command: \`npm run build && node bench/access.mjs\` (run of ${new Date().toISOString().slice(0, 10)}).`,
    '',
    ...lines,
    '',
  ].join('\n');
  const marker = '## Issue 13:';
  const start = text.indexOf(marker);
  let out;
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + marker.length);
    out = text.slice(0, start) + section + (next >= 0 ? text.slice(next + 1) : '');
  } else {
    const firstSection = text.indexOf('\n## ');
    out =
      firstSection >= 0
        ? text.slice(0, firstSection + 1) + section + '\n' + text.slice(firstSection + 1)
        : text + '\n' + section;
  }
  writeFileSync(file, out);
}
