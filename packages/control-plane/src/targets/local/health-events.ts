/**
 * What the supervisor's events mean for a deployment: an instance that exited is counted and reported; a
 * health change of the current generation moves the route and, outside operations, the deployment's status.
 */
import { currentOf } from './generations.js';
import { deploymentOfInstance, instancesOf, refreshRoute, type LocalContext } from './context.js';

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
  supervisor.on('state', ({ id, previous, status }) => {
    const key = deploymentOfInstance(id);
    const d = c.deployments.get(key);
    const current = d && currentOf(d.generations);
    // Instances being stopped on purpose change nothing: a stop removes the route itself.
    if (!current?.instanceIds.includes(id) || c.stopping.has(id)) return;
    refreshRoute(c, key);
    const all = instancesOf(c, current);
    const healthy = all.filter((s) => s.state.kind === 'healthy').length;
    const failed = all.find((s) => s.state.kind === 'precondition_failed');
    // While an operation drives the deployment it owns the status; afterwards health changes show here.
    if (previous.kind === 'healthy' || (status.state.kind === 'healthy' && previous.kind !== 'starting')) {
      const next = healthy === all.length ? 'healthy' : failed ? 'failed' : 'degraded';
      void store
        .setStatus(key, next, next === 'healthy' ? null : `${healthy}/${all.length} instances healthy`)
        .then(() =>
          store.addEvent({
            deploymentKey: key,
            kind: `health-${next}`,
            message: `${id}: ${previous.kind} → ${status.state.kind}`,
          }),
        )
        .catch(() => undefined);
    }
  });
}
