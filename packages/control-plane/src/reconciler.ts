/**
 * Reconciles the platform repo: desired deployments from git, observed ones from the state store and the
 * runtime, operations to close the gap. A repo that does not validate changes nothing: running deployments
 * keep running and the diagnostics are reported.
 */
import { createHash } from 'node:crypto';
import { deploymentsOf, formatDiagnostic, loadPlatformRepo } from '@msp/spec';
import { planReconcile, type DeploymentSpec, type PlannedAction } from '@msp/core';
import type { StateStore } from './state/store.js';
import type { OperationEngine } from './operations/engine.js';
import type { RuntimeTargets } from './targets/registry.js';

/** The deployment model lives in core; re-exported here for code that imported it from the reconciler. */
export type { DeploymentSpec };

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function specHash(spec: DeploymentSpec): string {
  return createHash('sha256').update(stableStringify(spec)).digest('hex').slice(0, 16);
}

export interface ReconcileResult {
  diagnostics: string[];
  actions: Array<PlannedAction & { operationId?: string; error?: string }>;
}

export async function reconcile(options: {
  repoDir: string;
  store: StateStore;
  engine: OperationEngine;
  targets: RuntimeTargets;
  by: string;
}): Promise<ReconcileResult> {
  const { store, engine, targets } = options;
  const runtime = targets.view;
  const { repo, diagnostics } = await loadPlatformRepo(options.repoDir);
  if (!repo || diagnostics.length > 0) {
    return { diagnostics: diagnostics.map(formatDiagnostic), actions: [] };
  }
  const dirs = new Map(repo.services.map((s) => [s.spec.service.id, s.dir]));
  const desired = deploymentsOf(repo).map((d): DeploymentSpec => {
    const spec: DeploymentSpec = {
      key: d.key,
      kind: d.kind,
      service: d.service,
      environment: d.environment,
      envConfig: d.envConfig,
      serviceDir: dirs.get(d.service.service.id)!,
      platformName: repo.platform.organization.name,
    };
    if (d.instance) spec.instance = d.instance;
    if (d.domain) spec.domain = d.domain;
    return spec;
  });

  // A deployment whose environment names a runtime without a target is refused, never run elsewhere; one
  // that exists already (its environment moved to another runtime) is left as it is.
  const actions: ReconcileResult['actions'] = [];
  const refused = new Set<string>();
  for (const spec of [...desired]) {
    const why = targets.refusal(spec);
    if (!why) continue;
    refused.add(spec.key);
    desired.splice(desired.indexOf(spec), 1);
    actions.push({ kind: 'deploy', key: spec.key, reason: 'refused', error: why });
  }
  const existing = (await store.listDeployments()).filter((e) => !refused.has(e.key));
  const unfinished = new Set(
    (await store.listOperations({ unfinished: true, limit: 1000 })).map((o) => o.deploymentKey),
  );
  const plan = planReconcile(
    desired.map((d) => ({ key: d.key, specHash: specHash(d) })),
    existing
      .filter((e) => e.desiredState !== 'deleted' && e.managedBy === 'repo')
      .map((e) => ({
        key: e.key,
        specHash: e.appliedHash ?? '',
        desiredState: e.desiredState,
        running: runtime.isRunning(e.key),
        busy: unfinished.has(e.key),
      })),
  );
  const byKey = new Map(desired.map((d) => [d.key, d]));
  for (const action of plan) {
    const spec = byKey.get(action.key);
    if (spec) {
      await store.upsertDeployment({
        key: spec.key,
        kind: spec.kind,
        service: spec.service.service.id,
        environment: spec.environment.id,
        ...(spec.instance ? { instance: spec.instance.id } : {}),
        spec,
        specHash: specHash(spec),
      });
    }
    try {
      const op = await engine.enqueue({
        kind: action.kind,
        deploymentKey: action.key,
        reason: action.reason,
        createdBy: options.by,
      });
      actions.push({ ...action, operationId: op.id });
    } catch (error) {
      actions.push({ ...action, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return { diagnostics: [], actions };
}

/**
 * Restore clones are not in the platform repo, so the reconciler leaves them alone; a control plane that
 * starts brings them back as they were, once: a full clone (with its workload) is deployed again, a clone
 * of data only gets its database started (never a workload). A clone stopped later stays stopped until the
 * next start; a failed one or one an operation works on is left as it is.
 */
export async function bringBackClones(options: {
  store: StateStore;
  engine: OperationEngine;
  targets: RuntimeTargets;
  by: string;
}): Promise<ReconcileResult['actions']> {
  const { store, engine, targets } = options;
  const runtime = targets.view;
  const actions: ReconcileResult['actions'] = [];
  const busy = new Set<string>();
  for (const o of await store.listOperations({ unfinished: true, limit: 1000 })) {
    busy.add(o.deploymentKey);
    // A restore into a clone works on the clone from its create-clone step on.
    if (typeof o.result?.cloneKey === 'string') busy.add(o.result.cloneKey);
  }
  for (const e of await store.listDeployments()) {
    if (e.managedBy !== 'clone' || e.desiredState !== 'running' || e.status === 'failed') continue;
    if (busy.has(e.key) || runtime.isRunning(e.key)) continue;
    if (e.targetRelease) {
      const action = { kind: 'deploy' as const, key: e.key, reason: 'restore clone not running' };
      try {
        const op = await engine.enqueue({
          kind: 'deploy',
          deploymentKey: e.key,
          reason: action.reason,
          createdBy: options.by,
        });
        actions.push({ ...action, operationId: op.id });
      } catch (error) {
        actions.push({ ...action, error: error instanceof Error ? error.message : String(error) });
      }
      continue;
    }
    const target = await targets.of(e.key).catch(() => undefined);
    if (!target || !(await target.databases.describe(e.key).catch(() => undefined))) continue;
    if (await target.databases.isRunning(e.key).catch(() => true)) continue;
    await target.databases.ensure(e.key).catch((error: unknown) => {
      actions.push({
        kind: 'deploy',
        key: e.key,
        reason: 'restore clone database not running',
        error: error instanceof Error ? error.message : String(error),
      });
    });
  }
  return actions;
}
