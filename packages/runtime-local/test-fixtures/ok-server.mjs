// A workload that meets the runtime contract: HTTP on $PORT, /-/healthz only with the bearer secret.
// Extras for tests: /slow?ms=N, /status?code=N, /whoami, POST /-/make-unhealthy, /spawn-grandchild, /print-secret.
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';

const port = Number(process.env.PORT);
const secret = process.env.DIAGNOSTICS_SECRET ?? '';
const name = process.env.INSTANCE_NAME ?? `pid-${process.pid}`;
let healthy = true;

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/-/healthz') {
    if (req.headers.authorization !== `Bearer ${secret}`) {
      res.writeHead(401).end('unauthorized\n');
      return;
    }
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain' }).end(healthy ? 'ok\n' : 'sick\n');
    return;
  }
  if (url.pathname === '/-/make-unhealthy' && req.method === 'POST') {
    healthy = false;
    res.writeHead(200).end('now unhealthy\n');
    return;
  }
  if (url.pathname === '/slow') {
    const ms = Number(url.searchParams.get('ms') ?? '50');
    setTimeout(() => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ name, pid: process.pid }));
    }, ms);
    return;
  }
  if (url.pathname === '/status') {
    res.writeHead(Number(url.searchParams.get('code') ?? '200')).end();
    return;
  }
  if (url.pathname === '/whoami') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ name, pid: process.pid, headers: req.headers }));
    return;
  }
  if (url.pathname === '/echo' && req.method === 'POST') {
    res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
    req.pipe(res);
    return;
  }
  if (url.pathname === '/spawn-grandchild') {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pid: child.pid }));
    return;
  }
  if (url.pathname === '/print-secret') {
    console.log(`the secret is ${secret}`);
    res.writeHead(200).end('printed\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain' }).end('hello\n');
});

// Binds HOST as the runtime contract asks (a service that ignored it would listen on every interface).
server.listen(port, process.env.HOST ?? '0.0.0.0', () => console.log(`listening on ${port} as ${name}`));
process.on('SIGTERM', () => {
  // Finish what is in flight, then exit.
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
