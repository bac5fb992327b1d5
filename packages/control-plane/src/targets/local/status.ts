/** What the local runtime reports about a deployment: its instances, URLs, database, logs and metrics. */
import { PreconditionFailedError } from '@msp/core';
import { readLogs } from '@msp/runtime-local';
import { slugOf } from '../../data-dir.js';
import type { DeploymentRuntimeStatus, RuntimeTarget } from '../../runtime-port.js';
import { currentInstances, type LocalContext } from './context.js';

export function createStatusViews(
  c: LocalContext,
): Pick<
  RuntimeTarget,
  'status' | 'isRunning' | 'logs' | 'grantDatabaseAccess' | 'revokeDatabaseAccess' | 'metrics' | 'proxyUrl'
> {
  const { proxy } = c;
  return {
    proxyUrl: () => `http://127.0.0.1:${proxy.port}`,
    isRunning(key) {
      return currentInstances(c, key).some((s) => s.state.kind !== 'precondition_failed');
    },
    status(key): DeploymentRuntimeStatus | undefined {
      const d = c.deployments.get(key);
      const cluster = c.clusters.get(key);
      const route = proxy.stats().routes.find((r) => d && r.hostnames.includes(d.hostnames[0] ?? ''));
      if (!d && !cluster) return undefined;
      return {
        key,
        instances: currentInstances(c, key).map((s) => ({
          id: s.id,
          state: s.state.kind,
          ...(s.pid !== undefined ? { pid: s.pid } : {}),
          port: s.port,
          restarts: s.restarts,
          ...(s.release ? { release: s.release } : {}),
          ...(s.lastError ? { lastError: s.lastError } : {}),
        })),
        urls: (d?.hostnames ?? []).map((h) => `http://${h}:${proxy.port}`),
        ...(cluster
          ? { database: { port: cluster.options.port, databases: cluster.options.databases, running: true } }
          : {}),
        pendingRequests: route?.pending ?? 0,
      };
    },
    async *logs(key, query) {
      for await (const l of readLogs({
        logDir: c.dataDir.logs,
        deployment: slugOf(key),
        ...(query.since ? { since: query.since } : {}),
        ...(query.follow ? { follow: true } : {}),
        ...(query.signal ? { signal: query.signal } : {}),
      })) {
        yield { at: l.time.toISOString(), stream: l.stream, instance: l.instance, line: l.text };
      }
    },
    async grantDatabaseAccess(key, request) {
      const cluster = c.clusters.get(key);
      if (!cluster) {
        throw new PreconditionFailedError(
          `Deployment ${key} has no running PostgreSQL: deploy it first (\`msp status\`).`,
        );
      }
      const creds = await cluster.mintTemporaryCredentials({
        access: request.access,
        validFor: request.validForSeconds,
      });
      return {
        user: creds.user,
        password: creds.password,
        host: '127.0.0.1',
        port: cluster.options.port,
        databases: cluster.options.databases,
        validUntil: creds.validUntil.toISOString(),
      };
    },
    async revokeDatabaseAccess(key, user) {
      const cluster = c.clusters.get(key);
      return cluster ? cluster.revokeCredentials(user) : false;
    },
    metrics() {
      const pendingRequests: Record<string, number> = {};
      const stats = proxy.stats();
      for (const [key, d] of c.deployments) {
        const route = stats.routes.find((r) => r.hostnames.includes(d.hostnames[0] ?? ''));
        if (route) pendingRequests[key] = route.pending;
      }
      return { pendingRequests };
    },
  };
}
