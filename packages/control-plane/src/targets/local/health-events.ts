/**
 * What the supervisor's events mean for a deployment: an instance that exited is counted and reported; a
 * health change of the current generation moves the route and, outside operations, the deployment's status.
 */
import type { DeploymentSpec } from '@msp/core';
import { healthOf, RUNTIME_STATUSES } from '../../deployments/health.js';
import { currentOf } from './generations.js';
import { deploymentOfInstance, refreshRoute, type LocalContext } from './context.js';

export function watchInstanceHealth(c: LocalContext): void {
  const { store, supervisor } = c;
  supervisor.on('exit', ({ id, code, signal }) => {
    if (c.stopping.has(id)) return;
    const key = deploymentOfInstance(id);
    void (async () => {
      await store.addRestart(key);
      await store.addEvent({
        deploymentKey: key,
        kind: 'instance-exited',
        message: `${id} exited (${signal ?? `code ${code}`}); restarting`,
        data: { instance: id, code, signal },
      });
    })().catch(() => undefined);
  });
  // One status update at a time per deployment, in the order of the events: a restart's "degraded" must
  // never land after the "healthy" that followed it.
  const queues = new Map<string, Promise<void>>();
  supervisor.on('state', ({ id, previous, status }) => {
    const key = deploymentOfInstance(id);
    const d = c.deployments.get(key);
    const current = d && currentOf(d.generations);
    // Instances being stopped on purpose change nothing: a stop removes the route itself.
    if (!current?.instanceIds.includes(id) || c.stopping.has(id)) return;
    refreshRoute(c, key);
    // Every change counts, starting → healthy after a crash too: the status follows the runtime. The
    // instances are read when the update runs, so a queued one writes what is true then.
    const update = async () => {
      const row = await store.getDeployment(key);
      const now = c.deployments.get(key);
      // While an operation drives the deployment (deploying, restoring, stopped) it owns the status.
      if (!row || !RUNTIME_STATUSES.has(row.status) || !now || currentOf(now.generations) !== current) return;
      const states = current.instanceIds.map((i) => c.supervisor.get(i)?.state.kind ?? 'stopped');
      const next = healthOf(row.spec as DeploymentSpec, states);
      if (next.status === row.status && next.detail === row.statusDetail) return;
      await store.setStatus(key, next.status, next.detail);
      await store.addEvent({
        deploymentKey: key,
        kind: `health-${next.status}`,
        message: `${id}: ${previous.kind} → ${status.state.kind}${next.detail ? ` (${next.detail})` : ''}`,
      });
    };
    const queued = (queues.get(key) ?? Promise.resolve()).then(update).catch(() => undefined);
    queues.set(key, queued);
    void queued.then(() => {
      if (queues.get(key) === queued) queues.delete(key);
    });
  });
}
