/**
 * The Release Registry as an MSP service: `node dist/main.js` with the runtime contract's environment
 * (PORT, DIAGNOSTICS_SECRET, PG*) plus RELEASE_REGISTRY_TOKEN. Exit codes: 0 after a clean shutdown,
 * 2 for an incomplete environment, 1 when the database is unreachable or the server cannot start.
 */
import { exitCodeOf } from '@msp/core';
import { configFromEnv } from './config.js';
import { startReleaseRegistryServer } from './server.js';
import type { RunningServer } from './server.js';
import type { ServerConfig } from './config.js';

function fail(error: unknown): never {
  process.stderr.write(
    `releaseregistry: cannot start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(exitCodeOf(error));
}

let config: ServerConfig;
try {
  config = configFromEnv(process.env);
} catch (error) {
  fail(error);
}

// Handlers first: a SIGTERM during start-up (waiting for the database, migrating) must not hit the default
// action. Before the server runs there is nothing in flight, and an interrupted migration rolls back.
const running: { server?: RunningServer } = {};
let stopping = false;
function stop(signal: string): void {
  if (stopping) return;
  stopping = true;
  const { server } = running;
  if (server === undefined) {
    process.stdout.write(`received ${signal} while starting: exiting\n`);
    process.exit(0);
  }
  process.stdout.write(`received ${signal}: finishing in-flight requests, then exiting\n`);
  server.close().then(
    () => {
      process.stdout.write('releaseregistry stopped\n');
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`releaseregistry: unclean shutdown: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

running.server = await startReleaseRegistryServer(config).catch(fail);
