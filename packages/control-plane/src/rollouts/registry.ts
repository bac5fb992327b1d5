/**
 * The Release Registry the control plane talks to: by default the `releaseregistry` package served by the
 * control plane itself (schema `releaseregistry` of the state database, mounted at /registry), or an
 * external one named in msp.yaml (`releaseRegistry: { url, tokenSecret }`). Either way through the client.
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
import type { StateStore } from '../state/store.js';

export interface RegistryConnection {
  client: ReleaseRegistryClient;
  /** Where people reach it: `/registry` on the control plane, or the external URL. */
  describe: string;
  /** The embedded registry app to mount at /registry; absent for an external registry. */
  app?: Hono;
}

export async function connectRegistry(options: {
  store: StateStore;
  repoDir: string;
}): Promise<RegistryConnection> {
  const { store } = options;
  const { repo } = await loadPlatformRepo(options.repoDir);
  const external = repo?.platform.releaseRegistry;
  if (external) {
    const token =
      process.env[external.tokenSecret] ?? (await store.getSecret('control-plane', external.tokenSecret));
    if (!token) {
      throw new PreconditionFailedError(
        `msp.yaml names the Release Registry ${external.url} with tokenSecret ${external.tokenSecret}, but no such secret is set: export ${external.tokenSecret}=<token> before starting the control plane.`,
      );
    }
    return { client: createReleaseRegistryClient({ baseUrl: external.url, token }), describe: external.url };
  }
  await migrateReleaseRegistry(store.pool, 'releaseregistry');
  const token = await store.ensureSecret('control-plane', 'registry-token', generateSecret);
  const app = createReleaseRegistryApp({ pool: store.pool, schema: 'releaseregistry', token });
  // In-process calls: no socket, same code path as over HTTP.
  const inProcess: typeof fetch = (input, init) =>
    Promise.resolve(app.fetch(new Request(input instanceof Request ? input : String(input), init)));
  return {
    client: createReleaseRegistryClient({ baseUrl: 'http://control-plane', token, fetch: inProcess }),
    describe: '/registry on the control plane',
    app,
  };
}
