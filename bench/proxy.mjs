#!/usr/bin/env node
// Issue 3 benchmark: proxy overhead. One fixture backend and the MSP proxy, each in its own process (as in
// `msp up`, where the proxy lives in the control plane); autocannon drives them from this process, first
// straight to the backend port, then through the proxy with a Host header, in the same run.
// Prints req/s, p50 and p99 for both and the ratios, and appends them to bench/RESULTS.md.
//
//   npm run build && node bench/proxy.mjs [--duration 10] [--connections 50] [--no-write]
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, totalmem, release, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

// Child mode: serve the proxy for the parent.
if (process.argv[2] === '--serve-splice') {
  // Reference floor, not a product: a raw TCP splice (no HTTP parsing, no routing, no per-request
  // accounting). What any userspace proxy in Node can at best reach on this machine.
  const net = await import('node:net');
  const backendPort = Number(process.argv[3]);
  const server = net.createServer((socket) => {
    const upstream = net.connect(backendPort, '127.0.0.1');
    socket.pipe(upstream).on('error', () => socket.destroy());
    upstream.pipe(socket).on('error', () => upstream.destroy());
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
} else if (process.argv[2] === '--serve-proxy') {
  const { createProxy } = await import('@msp/runtime-local');
  const backendPort = Number(process.argv[3]);
  const proxy = await createProxy({ port: 0, host: '127.0.0.1' });
  proxy.setRoute(['bench.dev.localhost'], [{ id: 'bench#1', port: backendPort }]);
  process.stdout.write(`${proxy.port}\n`);
  process.on('SIGTERM', () => void proxy.close().then(() => process.exit(0)));
} else {
  await main();
}

function waitForLine(child) {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const nl = text.indexOf('\n');
      if (nl >= 0) resolve(text.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`child exited early with code ${code}`)));
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat (100 Hz ticks). */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function load(autocannon, { url, host, duration, connections, rate }, pids = []) {
  const cpuBefore = pids.map(cpuMs);
  const times = [];
  const instance = autocannon({
    url,
    connections,
    duration,
    headers: host ? { host } : {},
    ...(rate ? { overallRate: rate } : {}),
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode === 200) times.push(responseTime);
  });
  const result = await instance;
  const cpuUs = pids.map((pid, i) => ((cpuMs(pid) - (cpuBefore[i] ?? 0)) * 1000) / result.requests.total);
  times.sort((a, b) => a - b);
  return {
    cpuUs,
    rps: result.requests.average,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    errors: result.errors + result.timeouts + result.non2xx,
    total: result.requests.total,
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      rate: { type: 'string', default: '2000' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const duration = Number(values.duration);
  const connections = Number(values.connections);
  const { default: autocannon } = await import('autocannon');
  const { findFreePort } = await import('@msp/runtime-local');

  const backendPort = await findFreePort();
  const backend = spawn(process.execPath, [here('../packages/runtime-local/test-fixtures/ok-server.mjs')], {
    env: { PATH: process.env.PATH, PORT: String(backendPort), DIAGNOSTICS_SECRET: 'bench' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const proxyChild = spawn(process.execPath, [here('./proxy.mjs'), '--serve-proxy', String(backendPort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const spliceChild = spawn(process.execPath, [here('./proxy.mjs'), '--serve-splice', String(backendPort)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stop = () => {
    backend.kill('SIGKILL');
    proxyChild.kill('SIGKILL');
    spliceChild.kill('SIGKILL');
  };
  process.on('exit', stop);
  try {
    await waitForLine(backend);
    const proxyPort = Number(await waitForLine(proxyChild));
    const splicePort = Number(await waitForLine(spliceChild));
    const rate = Number(values.rate);
    const direct = { url: `http://127.0.0.1:${backendPort}/`, duration, connections };
    const proxied = {
      url: `http://127.0.0.1:${proxyPort}/`,
      host: 'bench.dev.localhost',
      duration,
      connections,
    };
    const load1 = loadavg()[0];

    // Warm up both paths (JIT, sockets) before measuring.
    await load(autocannon, { ...direct, duration: 2 });
    await load(autocannon, { ...proxied, duration: 2 });
    await load(autocannon, { url: `http://127.0.0.1:${splicePort}/`, duration: 2, connections });
    const d = await load(autocannon, direct, [backend.pid]);
    const p = await load(autocannon, proxied, [backend.pid, proxyChild.pid]);
    const sp = await load(autocannon, { url: `http://127.0.0.1:${splicePort}/`, duration, connections }, [
      backend.pid,
      spliceChild.pid,
    ]);
    // At a fixed, realistic rate (the machine not saturated): the latency the proxy adds to a request.
    const fixed = { duration, connections: 10, rate };
    const dr = await load(autocannon, { ...direct, ...fixed });
    const pr = await load(autocannon, { ...proxied, ...fixed });
    const backendCpuUs = d.cpuUs[0] ?? NaN;
    const proxyCpuUs = p.cpuUs[1] ?? NaN;

    const rows = [
      ['direct', d],
      ['proxy', p],
      ['tcp splice (reference floor)', sp],
      [`direct at ${rate} req/s`, dr],
      [`proxy at ${rate} req/s`, pr],
    ];
    const fmt = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
    const ratio = p.rps / d.rps;
    const addedP50 = p.p50 - d.p50;
    const addedP99 = p.p99 - d.p99;
    const addedFixedP50 = pr.p50 - dr.p50;
    console.log('path                             req/s      p50 ms   p99 ms   errors');
    for (const [name, r] of rows) {
      console.log(
        `${name.padEnd(32)} ${fmt(r.rps, 0).padStart(8)}   ${fmt(r.p50).padStart(6)}   ${fmt(r.p99).padStart(6)}   ${r.errors}`,
      );
    }
    console.log(
      `at ${rate} req/s: added p50 ${fmt(addedFixedP50)} ms, added p99 ${fmt(pr.p99 - dr.p99)} ms; tcp splice reaches ${((sp.rps / d.rps) * 100).toFixed(1)}% of direct`,
    );
    console.log(
      `throughput ratio ${(ratio * 100).toFixed(1)}% (target ≥ 80%), added p50 ${fmt(addedP50)} ms (target < 1 ms), added p99 ${fmt(addedP99)} ms`,
    );
    console.log(
      `CPU per request: backend ${fmt(backendCpuUs, 0)} µs, proxy ${fmt(proxyCpuUs, 0)} µs; load average now ${loadavg()
        .map((n) => n.toFixed(2))
        .join(' ')}`,
    );

    if (!values['no-write']) {
      const cpu = cpus();
      const facts = `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Linux ${release()}, Node ${process.version}, 1-min load at start ${load1.toFixed(2)}`;
      const block = [
        '',
        `### Run ${new Date().toISOString()}`,
        '',
        `Machine: ${facts}.`,
        `Command: \`node bench/proxy.mjs --duration ${duration} --connections ${connections} --rate ${rate}\` (autocannon, ${duration} s per row after 2 s warm-ups; backend, proxy and load generator in separate processes).`,
        '',
        '| path | req/s | p50 ms | p99 ms | errors |',
        '|---|---:|---:|---:|---:|',
        ...rows.map(
          ([name, r]) => `| ${name} | ${fmt(r.rps, 0)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.errors} |`,
        ),
        '',
        `CPU per request: backend ${fmt(backendCpuUs, 0)} µs, proxy ${fmt(proxyCpuUs, 0)} µs (the proxy needs a core of its own to keep up with the backend; this machine has ${cpu.length}).`,
        '',
        `Saturated (${connections} connections, as fast as possible): proxy throughput ${(ratio * 100).toFixed(1)}% of direct (target ≥ 80%: ${ratio >= 0.8 ? 'met' : 'missed'}); added p50 ${fmt(addedP50)} ms, p99 ${fmt(addedP99)} ms. The raw TCP splice, which parses nothing, reaches ${((sp.rps / d.rps) * 100).toFixed(1)}% of direct in the same run: the ceiling of a userspace proxy sharing this machine's ${cpus().length} cores with the backend and the load generator.`,
        '',
        `At a fixed ${rate} req/s over 10 connections (not saturated): added p50 ${fmt(addedFixedP50)} ms (target < 1 ms: ${addedFixedP50 < 1 ? 'met' : 'missed'}), added p99 ${fmt(pr.p99 - dr.p99)} ms.`,
        '',
      ].join('\n');
      appendSection(here('./RESULTS.md'), '## Issue 3: proxy overhead', block);
      console.log('appended to bench/RESULTS.md');
    }
  } finally {
    stop();
  }
}

/** Appends `block` at the end of `heading`'s section, creating the file or the section; other sections stay. */
function appendSection(file, heading, block) {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const start = text.indexOf(`${heading}\n`);
  if (start < 0) {
    const intro =
      '\nProxy overhead: the MSP proxy (`packages/runtime-local/src/proxy/proxy.ts`) versus straight to the service port, same load generator, same run. Produced by `bench/proxy.mjs`.\n';
    writeFileSync(file, `${text.replace(/\n*$/, '\n')}\n${heading}\n${intro}${block}`);
    return;
  }
  const next = text.indexOf('\n## ', start + heading.length);
  const end = next < 0 ? text.length : next + 1;
  const before = text.slice(0, end).replace(/\n*$/, '\n');
  writeFileSync(file, `${before}${block}\n${text.slice(end)}`);
}
