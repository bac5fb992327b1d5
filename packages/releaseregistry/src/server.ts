import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import pg from 'pg';
import { UnavailableError } from '@msp/core';
import { createReleaseRegistryApp } from './app.js';
import type { ServerConfig } from './config.js';
import { migrateReleaseRegistry } from './migrate.js';

export interface RunningServer {
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), closes the pool. */
  close(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  readonly log?: (line: string) => void;
}

async function waitForDatabase(pool: pg.Pool, config: ServerConfig): Promise<void> {
  const { host, port, database } = config.database;
  const deadline = Date.now() + config.connectTimeoutSeconds * 1000;
  let delay = 100;
  for (;;) {
    try {
      await pool.query('SELECT 1');
      return;
    } catch (error) {
      if (Date.now() + delay >= deadline) {
        throw new UnavailableError(
          `database ${database} at ${host}:${port} is unreachable after ${config.connectTimeoutSeconds}s (${(error as Error).message}); check PGHOST/PGPORT/PGUSER/PGPASSWORD and that PostgreSQL is running`,
          { cause: error },
        );
      }
      // Backoff between attempts: PostgreSQL may be finishing its own start.
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 1000);
    }
  }
}

/** Connects, migrates, then serves. Rejects (with the pool closed) when any of that fails. */
export async function startReleaseRegistryServer(
  config: ServerConfig,
  options: StartOptions = {},
): Promise<RunningServer> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const pool = new pg.Pool({
    ...config.database,
    max: 10,
    connectionTimeoutMillis: Math.min(5000, config.connectTimeoutSeconds * 1000),
    application_name: 'releaseregistry',
  });
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on('error', (error) => log(`warning: idle database connection failed: ${error.message}`));
  try {
    await waitForDatabase(pool, config);
    const { applied, current } = await migrateReleaseRegistry(pool, config.schema);
    log(
      applied.length > 0
        ? `migrated schema ${config.schema} to version ${current} (applied ${applied.join(', ')})`
        : `schema ${config.schema} is up to date (version ${current})`,
    );
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }

  const app = createReleaseRegistryApp({
    pool,
    schema: config.schema,
    token: config.token,
    diagnosticsSecret: config.diagnosticsSecret,
    log,
    version: await ownVersion(),
  });
  const listener = getRequestListener(app.fetch);
  // The listener handles its own errors (the app answers them); nothing to await per request here.
  const server = createServer((req, res) => void listener(req, res));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new UnavailableError(
      `cannot listen on port ${config.port} (${(error as Error).message}); choose a free PORT`,
      { cause: error },
    );
  }
  const port = (server.address() as AddressInfo).port;
  log(`releaseregistry listening on port ${port}`);

  let closing: Promise<void> | undefined;
  return {
    port,
    close(graceMs = 10_000) {
      closing ??= (async () => {
        // close() stops accepting and ends idle keep-alive connections; in-flight requests finish first.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        await closed;
        clearTimeout(force);
        await pool.end();
      })();
      return closing;
    },
  };
}

/** The version in the package.json next to the running code: a release bundle carries its own. */
async function ownVersion(): Promise<string | undefined> {
  try {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ? `v${pkg.version.replace(/^v/, '')}` : undefined;
  } catch {
    return undefined;
  }
}
