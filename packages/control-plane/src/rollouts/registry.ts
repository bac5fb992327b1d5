/**
 * The Release Registry the control plane talks to: by default the `releaseregistry` package served by the
 * control plane itself (schema `releaseregistry` of the state database, mounted at /registry), or an
 * external one named in msp.yaml (`releaseRegistry: { url, tokenSecret }`). Either way through the client.
 *
 * The external registry's token comes only from `MSP_REGISTRY_TOKEN_<TOKENSECRET>`: msp.yaml is written by
 * anyone who can commit to the platform repo, so `tokenSecret` must not be able to name another variable of
 * the control plane (`MSP_SECRET_KEY`, `DATABASE_URL`) and have it sent to a URL of their choosing.
 */
import type { Hono } from 'hono';
import {
  createReleaseRegistryApp,
  createReleaseRegistryClient,
  migrateReleaseRegistry,
  type ReleaseRegistryClient,
} from '@msp/releaseregistry';
import { loadPlatformRepo } from '@msp/spec';
import { PreconditionFailedError } from '@msp/core';
import { generateSecret } from '../secrets.js';
import type { Db } from '../state/db.js';
import type { StateStore } from '../state/store.js';

export interface RegistryConnection {
  client: ReleaseRegistryClient;
  /** Where people reach it: `/registry` on the control plane, or the external URL. */
  describe: string;
  /** The embedded registry app to mount at /registry; absent for an external registry. */
  app?: Hono;
}

/** The only environment variable an external registry's token is read from: `ci-token` → `MSP_REGISTRY_TOKEN_CI_TOKEN`. */
export function registryTokenVariable(tokenSecret: string): string {
  return `MSP_REGISTRY_TOKEN_${tokenSecret.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export async function connectRegistry(options: {
  store: StateStore;
  /** The module's database handle: the embedded registry's tables (schema `releaseregistry`). */
  db: Db;
  repoDir: string;
  /** Where `MSP_REGISTRY_TOKEN_*` is read (default process.env). */
  env?: NodeJS.ProcessEnv;
}): Promise<RegistryConnection> {
  const { store } = options;
  const { repo } = await loadPlatformRepo(options.repoDir);
  const external = repo?.platform.releaseRegistry;
  if (external) {
    const variable = registryTokenVariable(external.tokenSecret);
    const token = (options.env ?? process.env)[variable];
    if (!token) {
      throw new PreconditionFailedError(
        `msp.yaml names the Release Registry ${external.url} with tokenSecret ${external.tokenSecret}, but ${variable} is not set: export ${variable}=<token> before starting the control plane.`,
      );
    }
    return { client: createReleaseRegistryClient({ baseUrl: external.url, token }), describe: external.url };
  }
  await migrateReleaseRegistry(options.db, 'releaseregistry');
  const token = await store.ensureSecret('control-plane', 'registry-token', generateSecret);
  const app = createReleaseRegistryApp({ pool: options.db, schema: 'releaseregistry', token });
  // In-process calls: no socket, same code path as over HTTP.
  const inProcess: typeof fetch = (input, init) =>
    Promise.resolve(app.fetch(new Request(input instanceof Request ? input : String(input), init)));
  return {
    client: createReleaseRegistryClient({ baseUrl: 'http://control-plane', token, fetch: inProcess }),
    describe: '/registry on the control plane',
    app,
  };
}
