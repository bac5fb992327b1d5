// A release that fails its health check: it serves requests, but /-/healthz answers 500 — from the start,
// or after `brokenAfterMs` (package.json) so that it passes the startup probe and fails during the soak.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const brokenAfterMs = Number(pkg.brokenAfterMs ?? 0);
const started = Date.now();
const release = process.env.MSP_RELEASE ?? `v${pkg.version}`;

const server = createServer((req, res) => {
  if (req.url === '/-/healthz') {
    const broken = Date.now() - started >= brokenAfterMs;
    res.writeHead(broken ? 500 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(broken ? { status: 'broken', release } : { status: 'ok', release }));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ release, broken: true }));
});
server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
