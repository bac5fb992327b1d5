/**
 * The local runtime's own operations: the steps of deploy, stop and delete and what each does. Every step
 * is idempotent, so a resumed operation is safe. Rollouts run the deploy steps inside their operations.
 */
import { rm } from 'node:fs/promises';
import { z } from 'zod';
import { PreconditionFailedError, type DeploymentSpec, type Operation } from '@msp/core';
import type { StepContext } from '../../operations/engine.js';
import { healthOf } from '../../deployments/health.js';
import { inputOf } from '../../operations/inputs.js';
import type { TargetSteps } from '../../runtime-port.js';
import { generateSecret } from '../../secrets.js';
import type { DeploymentRow } from '../../state/store.js';
import {
  applyGenerations,
  clusterFor,
  deploymentOf,
  instancesOf,
  pathsOf,
  refreshRoute,
  type LocalContext,
} from './context.js';
import { currentOf, previousOf } from './generations.js';
import { ensureVolumeDirs } from './volumes.js';
import { ensureInstances, soak } from './workload.js';
import { stopWalStream } from './wal-streams.js';

export const localSteps: TargetSteps = {
  deploy: ['secrets', 'database', 'volumes', 'instances', 'route', 'record'],
  stop: ['route', 'instances', 'database', 'record'],
  delete: ['route', 'instances', 'database', 'data', 'record'],
};

/** What a deploy step reads from its operation's input (a rollout may ask for its own soak). */
const deployInput = z.looseObject({ soakSeconds: z.number().min(0).optional() });

type Step = (row: DeploymentRow, spec: DeploymentSpec, ctx: StepContext) => Promise<string | void>;

function deploySteps(c: LocalContext): Record<string, Step> {
  const { store } = c;
  return {
    async secrets(row, spec) {
      await store.setStatus(row.key, 'deploying', 'preparing secrets');
      const names = [
        'diagnostics',
        ...Object.values(spec.environment.secretEnv ?? {}).map((n) => `env:${n}`),
      ];
      for (const n of names) await store.ensureSecret(row.key, n, generateSecret);
      return `${names.length} secret(s) ready`;
    },
    async database(row, spec, ctx) {
      const cluster = await clusterFor(c, row, spec);
      if (!cluster) return 'no PostgreSQL in the spec';
      await store.setStatus(row.key, 'deploying', 'starting PostgreSQL');
      await cluster.ensure();
      c.supervisedDatabases.add(row.key);
      await ctx.log(`PostgreSQL on port ${cluster.options.port}: ${cluster.options.databases.join(', ')}`);
      return `PostgreSQL :${cluster.options.port} (${cluster.options.databases.join(', ')})`;
    },
    async volumes(row, spec) {
      const volumes = spec.environment.resources?.volumes ?? [];
      await ensureVolumeDirs(
        c,
        row.key,
        volumes.map((v) => v.name),
      );
      return volumes.length ? volumes.map((v) => v.name).join(', ') : 'no volumes';
    },
    async instances(row, spec, ctx) {
      await store.setStatus(row.key, 'deploying', 'starting instances');
      return ensureInstances(c, row, spec, ctx);
    },
    async route(row, spec, ctx) {
      const d = deploymentOf(c, row.key);
      // A resumed operation may find no instances (the previous control plane took them along): start them.
      if (instancesOf(c, currentOf(d.generations)).length === 0) await ensureInstances(c, row, spec, ctx);
      refreshRoute(c, row.key);
      const old = previousOf(d.generations);
      const fresh = currentOf(d.generations)!;
      const input = inputOf(ctx.operation, deployInput);
      const soakMs = input.soakSeconds !== undefined ? input.soakSeconds * 1000 : c.defaultSoakMs;
      if (old && soakMs > 0 && instancesOf(c, old).some((s) => s.state.kind === 'healthy')) {
        await ctx.log(
          `traffic moved to ${fresh.release}; soaking ${soakMs / 1000} s with ${old.release} kept running`,
        );
        const probes = spec.environment.healthProbes;
        const verdict = await soak(
          c,
          fresh,
          soakMs,
          await store.ensureSecret(row.key, 'diagnostics', generateSecret),
          (probes?.timeout ?? 3) * 1000,
          ctx.signal,
        );
        if (verdict.kind === 'fail') {
          // Back to the previous release: route first, then take the failed one down.
          await applyGenerations(c, row.key, { type: 'soak_failed' }, () =>
            ctx.log(
              `${fresh.release} failed the soak: ${verdict.reason}; traffic is back on ${old.release}`,
              'warn',
            ),
          );
          throw new PreconditionFailedError(
            `${fresh.release} failed its health gate: ${verdict.reason}; traffic returned to ${old.release}`,
          );
        }
      }
      const stopped = await applyGenerations(c, row.key, { type: 'settled' });
      for (const g of stopped) await ctx.log(`drained and stopped the previous instances (${g.release})`);
      return `${d.hostnames.join(', ')} → ${currentOf(d.generations)?.instanceIds.length ?? 0} instance(s) of ${fresh.release}`;
    },
    async record(row, spec) {
      const current = currentOf(deploymentOf(c, row.key).generations);
      // Healthy only with the minimum of instances running healthy (a resumed deploy may find none).
      const health = healthOf(
        spec,
        instancesOf(c, current).map((s) => s.state.kind),
      );
      await store.setDesiredState(row.key, 'running');
      await store.markApplied(row.key, row.specHash);
      await store.setStatus(row.key, health.status, health.detail, current?.release ?? null);
      await store.addEvent({
        deploymentKey: row.key,
        kind: 'deployed',
        message: `${spec.service.service.id} ${current?.release ?? ''} deployed to ${spec.environment.id}`,
      });
      return current?.release;
    },
  };
}

/** The steps of stop and delete. */
function removalSteps(c: LocalContext, kind: 'stop' | 'delete'): Record<string, Step> {
  const { store } = c;
  return {
    route(row) {
      const d = c.deployments.get(row.key);
      if (d?.hostnames.length) c.proxy.removeRoute(d.hostnames);
      return Promise.resolve('route removed');
    },
    async instances(row) {
      await applyGenerations(c, row.key, { type: 'stopped' });
      c.deployments.delete(row.key);
      return 'instances stopped';
    },
    async database(row, spec) {
      c.supervisedDatabases.delete(row.key);
      await stopWalStream(c, row.key);
      const known = c.clusters.get(row.key);
      // A resumed stop in a new control plane: the cluster may still run from before.
      const cluster = known ?? (await clusterFor(c, row, spec));
      if (!cluster) return 'no PostgreSQL running';
      if (known || (await cluster.isRunning())) await cluster.stop('fast');
      c.clusters.delete(row.key);
      return 'PostgreSQL stopped';
    },
    async data(row, _spec, ctx) {
      const paths = pathsOf(c.dataDir, row.key);
      await rm(paths.cluster, { recursive: true, force: true });
      await rm(paths.volumes, { recursive: true, force: true });
      await ctx.log('removed the cluster and volume data (the WAL archive is kept)');
      return 'data removed';
    },
    async record(row) {
      if (kind === 'delete') {
        await store.deleteSecrets(row.key);
        await store.removeDeployment(row.key);
        return 'deleted';
      }
      await store.setDesiredState(row.key, 'stopped');
      await store.setStatus(row.key, 'stopped', 'stopped; data kept until `delete`');
      return 'stopped';
    },
  };
}

export function createStepRunner(c: LocalContext) {
  const deploy = deploySteps(c);
  const removal = { stop: removalSteps(c, 'stop'), delete: removalSteps(c, 'delete') };
  return {
    async runStep(step: string, ctx: StepContext): Promise<string | void> {
      const { kind, deploymentKey: key } = ctx.operation;
      const row = await c.store.requireDeployment(key);
      const spec = row.spec as DeploymentSpec;
      // Rollout kinds (deliver, promote, rollback, deploy-release) run the deploy steps too.
      const steps = kind === 'stop' ? removal.stop : kind === 'delete' ? removal.delete : deploy;
      const run = steps[step];
      if (!run) throw new Error(`the local runtime has no ${kind} step ${step}`);
      return run(row, spec, ctx);
    },
    async onFinished(op: Operation): Promise<void> {
      if (op.status === 'failed' && op.kind === 'deploy') {
        const d = c.deployments.get(op.deploymentKey);
        const serving = instancesOf(c, d && currentOf(d.generations)).some((s) => s.state.kind === 'healthy');
        await c.store.setStatus(
          op.deploymentKey,
          serving ? 'degraded' : 'failed',
          op.error ?? 'deploy failed',
        );
      }
    },
  };
}
