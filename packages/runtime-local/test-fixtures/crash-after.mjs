// Exits with code 1 after CRASH_AFTER_MS (0: before it ever listens), saying why on stderr.
import { createServer } from 'node:http';

const after = Number(process.env.CRASH_AFTER_MS ?? '0');
if (after === 0) {
  console.error('fatal: DATABASE_URL is not set');
  process.exit(1);
}
const secret = process.env.DIAGNOSTICS_SECRET ?? '';
createServer((req, res) => {
  const ok = req.url === '/-/healthz' && req.headers.authorization === `Bearer ${secret}`;
  res.writeHead(ok ? 200 : 404).end();
}).listen(Number(process.env.PORT), '127.0.0.1');
setTimeout(() => {
  console.error('fatal: crashing as asked');
  process.exit(1);
}, after);
