// The sample product: one dedicated copy per customer, run by MSP under its runtime contract.
//   PORT, HOST, DIAGNOSTICS_SECRET (/-/healthz), PGHOST/PGPORT/PGUSER/PGPASSWORD, PGDATABASE_SAMPLEPRODUCT or PGDATABASE,
//   optional MSP_INSTANCE_CUSTOMER (shown on /) and VOLUME_UPLOADS (a directory uploads are kept in).
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import { createPool, migrate } from './db.js';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const customer = process.env.MSP_INSTANCE_CUSTOMER || 'nobody in particular';
const uploads = process.env.VOLUME_UPLOADS;
const secret = process.env.DIAGNOSTICS_SECRET;
const port = Number(process.env.PORT);
if (!secret || !(port > 0)) {
  console.error(
    'sampleproduct: cannot start: PORT and DIAGNOSTICS_SECRET must be set (the MSP runtime contract)',
  );
  process.exit(2);
}

let pool;
try {
  pool = createPool();
  const applied = await migrate(pool);
  console.log(applied.length > 0 ? `applied migrations ${applied.join(', ')}` : 'schema is up to date');
} catch (error) {
  console.error(`sampleproduct: cannot start: database: ${error.message}`);
  await pool?.end().catch(() => undefined);
  process.exit(1);
}

const sha = (text) => createHash('sha256').update(text).digest();
const authorized = (req) => timingSafeEqual(sha(req.headers.authorization ?? ''), sha(`Bearer ${secret}`));

function send(res, status, body, type = 'application/json') {
  const text = type === 'application/json' ? JSON.stringify(body) : String(body);
  res.writeHead(status, {
    'content-type': `${type}; charset=utf-8`,
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
const fail = (res, status, code, message) => send(res, status, { error: { code, message } });

async function readBody(req, limit = 10 * 1024 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw Object.assign(new Error(`body larger than ${limit} bytes`), { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function route(req, res) {
  const { pathname } = new URL(req.url, 'http://localhost');
  const upload = /^\/api\/uploads\/([A-Za-z0-9][A-Za-z0-9._-]{0,99})$/.exec(pathname);
  if (pathname === '/-/healthz' && req.method === 'GET') {
    if (!authorized(req))
      return fail(res, 401, 'unauthenticated', 'send Authorization: Bearer <DIAGNOSTICS_SECRET>');
    const up = await pool.query('SELECT 1').then(
      () => true,
      () => false,
    );
    if (!up) return fail(res, 503, 'unavailable', 'database is not answering; check PostgreSQL');
    return send(res, 200, { status: 'ok', version });
  }
  if (pathname === '/' && req.method === 'GET') {
    const html = `<!doctype html><title>sampleproduct</title><h1>sampleproduct v${version}</h1><p>Customer: ${escape(customer)}</p>`;
    return send(res, 200, html, 'text/html');
  }
  if (pathname === '/api/notes' && req.method === 'GET') {
    // Every column: later versions add some (tags, title) and the notes' JSON shows them.
    const { rows } = await pool.query('SELECT * FROM notes ORDER BY id');
    return send(res, 200, rows);
  }
  if (pathname === '/api/notes' && req.method === 'POST') {
    let body;
    try {
      body = JSON.parse((await readBody(req, 64 * 1024)).toString('utf8'));
    } catch {
      return fail(res, 400, 'invalid_input', 'request body: send JSON like {"body": "my note"}');
    }
    if (typeof body?.body !== 'string' || body.body.length < 1 || body.body.length > 10000) {
      return fail(res, 400, 'invalid_input', 'body: must be a string of 1 to 10000 characters');
    }
    const { rows } = await pool.query('INSERT INTO notes (body) VALUES ($1) RETURNING *', [body.body]);
    return send(res, 201, rows[0]);
  }
  if ((upload || pathname === '/api/uploads') && !uploads) {
    return fail(res, 503, 'unavailable', 'uploads need a volume: set VOLUME_UPLOADS to a directory');
  }
  if (pathname === '/api/uploads' && req.method === 'GET')
    return send(res, 200, (await readdir(uploads)).sort());
  if (upload && req.method === 'PUT') {
    await writeFile(join(uploads, upload[1]), await readBody(req));
    return send(res, 201, { name: upload[1] });
  }
  if (upload && req.method === 'GET') {
    const data = await readFile(join(uploads, upload[1])).catch(() => undefined);
    if (data === undefined) return fail(res, 404, 'not_found', `no upload named ${upload[1]}`);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
    return res.end(data);
  }
  return fail(res, 404, 'not_found', `no route for ${req.method} ${pathname}`);
}

function escape(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const server = createServer((req, res) => {
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(
      `${new Date().toISOString()} ${req.method} ${req.url.split('?')[0]} ${res.statusCode} ${ms.toFixed(1)}ms`,
    );
  });
  route(req, res).catch((error) => {
    if (!error.status) console.error(`error: ${req.method} ${req.url}: ${error.stack ?? error}`);
    if (res.headersSent) return res.destroy();
    if (error.status) return fail(res, error.status, 'invalid_input', error.message);
    fail(res, 500, 'internal', 'internal error; see the log');
  });
});
server.on('error', (error) => {
  console.error(`sampleproduct: cannot listen on port ${port}: ${error.message}`);
  process.exit(1);
});
// HOST is the runtime contract's bind address (loopback on the local runtime: only the proxy reaches it).
server.listen(port, process.env.HOST || undefined, () =>
  console.log(`sampleproduct v${version} listening on ${process.env.HOST || '*'}:${port}`),
);

function stop(signal) {
  console.log(`received ${signal}: finishing in-flight requests, then exiting`);
  setTimeout(() => server.closeAllConnections(), 10_000).unref();
  server.close(() => pool.end().then(() => process.exit(0)));
}
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
