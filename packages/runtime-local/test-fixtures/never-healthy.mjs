// Listens, but its health check never passes.
import { createServer } from 'node:http';

createServer((_req, res) => res.writeHead(503).end('not ready\n')).listen(
  Number(process.env.PORT),
  '127.0.0.1',
);
