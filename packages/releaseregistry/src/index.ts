/**
 * The Release Registry: which versions of which products exist and which are public.
 * Run it as a service (`node dist/main.js`), or mount it in another server:
 *
 *   await migrateReleaseRegistry(pool, 'releaseregistry');
 *   const registry = createReleaseRegistryApp({ pool, schema: 'releaseregistry', token });
 *   app.route('/registry', registry); // hono; or call registry.fetch(request)
 */
export { createReleaseRegistryApp, bearerMatches } from './app.js';
export type { ReleaseRegistryAppOptions } from './app.js';
export { migrateReleaseRegistry, loadMigrations, DEFAULT_SCHEMA } from './migrate.js';
export { registryDbOf, type Database, type RegistryDb } from './db.js';
export type { Migration, MigrationResult } from './migrate.js';
export { createReleaseRegistryClient, ReleaseRegistryError } from './client.js';
export type { ReleaseRegistryClient, ReleaseRegistryClientOptions } from './client.js';
export { PostgresReleaseStore } from './store.js';
export type { ReleaseStore } from './store.js';
export { newReleaseSchema, releaseSchema, artifactSchema, ARTIFACT_KINDS } from './release.js';
export type { Artifact, ArtifactKind, NewRelease, Release } from './release.js';
export { compareVersions, parseVersion, formatVersion } from './semver.js';
export type { SemanticVersion } from './semver.js';
export { configFromEnv } from './config.js';
export type { ServerConfig } from './config.js';
export { startReleaseRegistryServer } from './server.js';
export type { RunningServer } from './server.js';
