/** Prometheus metrics of the control plane, computed when scraped. */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { StateStore } from './state/store.js';
import type { RuntimeTarget } from './runtime-port.js';

export function createMetrics(store: StateStore, runtime: RuntimeTarget): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'msp_control_plane_' });
  new Gauge({
    name: 'msp_deployments',
    help: 'Deployments by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const d of await store.listDeployments()) this.inc({ status: d.status });
    },
  });
  new Gauge({
    name: 'msp_deployment_restarts',
    help: 'Process restarts per deployment since it was created',
    labelNames: ['deployment'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const d of await store.listDeployments()) this.set({ deployment: d.key }, d.restarts);
    },
  });
  new Gauge({
    name: 'msp_proxy_pending_requests',
    help: 'Requests in flight through the proxy, per deployment',
    labelNames: ['deployment'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, n] of Object.entries(runtime.metrics().pendingRequests))
        this.set({ deployment: key }, n);
    },
  });
  new Gauge({
    name: 'msp_operations_running',
    help: 'Operations queued or running',
    registers: [registry],
    async collect() {
      this.set((await store.listOperations({ unfinished: true, limit: 1000 })).length);
    },
  });
  return registry;
}
