/**
 * What the rollout routes and operations share: a service's deployments and pipeline, what each stage
 * runs, a release's target, the rollout history's verdicts, queuing a move and its notification.
 */
import {
  NotFoundError,
  PreconditionFailedError,
  expandChannels,
  pipelineOf,
  type DeploymentSpec,
  type Operation,
  type Pipeline,
} from '@msp/core';
import type { ArtifactStore } from '@msp/runtime-local';
import type { Release } from '@msp/releaseregistry';
import { enqueueExplained } from '../api/busy.js';
import type { OperationEngine } from '../operations/engine.js';
import type { DeploymentRow, StateStore, TargetRelease } from '../state/store.js';
import type { MoveInput } from './inputs.js';
import type { RegistryConnection } from './registry.js';
import type { RolloutStore, StageRelease, StageState } from './store.js';

export interface RolloutDeps {
  store: StateStore;
  engine: OperationEngine;
  rollouts: RolloutStore;
  artifacts: ArtifactStore;
  registry: RegistryConnection;
}

/** A move as a route or a failed move asks for it; the service, environment and previous come from the row. */
export type MoveRequest = Omit<MoveInput, 'service' | 'environment' | 'previous'>;

export interface RolloutService {
  /** The service's deployments (declared in the repo), by environment; NotFoundError when it has none. */
  deploymentsOf(id: string): Promise<Map<string, DeploymentRow>>;
  /** The service's pipeline; PreconditionFailedError when its spec has no `rollout` block. */
  pipelineFor(id: string, rows: Map<string, DeploymentRow>): Promise<Pipeline>;
  /** What a stage runs: the recorded release, else what its deployment reports (the working tree). */
  runningIn(
    id: string,
    rows: Map<string, DeploymentRow>,
  ): Promise<{ stages: Map<string, StageState>; current: Record<string, StageRelease | undefined> }>;
  /** The target of a registered release (its bundle); NotFoundError for an unknown version. */
  releaseTarget(id: string, version: string): Promise<TargetRelease>;
  /** Which versions passed which stage, and which failed everywhere they went, from the history. */
  passedAndFailed(id: string): Promise<{
    history: Awaited<ReturnType<RolloutStore['history']>>;
    passed: (version: string, environment: string) => boolean;
    failed: (version: string) => boolean;
  }>;
  /** Queues a move on the deployment; a busy deployment's 409 names the operation in the way. */
  enqueueMove(
    row: DeploymentRow,
    move: MoveRequest,
    who: string,
    previous: StageRelease | null,
  ): Promise<Operation>;
  /** A notification event on the deployment's channels. */
  notify(row: DeploymentRow, message: string, severity: 'info' | 'warning', data: object): Promise<void>;
}

export const specOf = (row: DeploymentRow): DeploymentSpec => row.spec as DeploymentSpec;

export function createRolloutService(deps: RolloutDeps): RolloutService {
  const { store, engine, rollouts, artifacts, registry } = deps;
  return {
    async deploymentsOf(id) {
      const rows = (await store.listDeployments()).filter(
        (d) => d.kind === 'service' && d.service === id && d.desiredState !== 'deleted',
      );
      if (rows.length === 0) {
        throw new NotFoundError(`No service '${id}' is deployed. Run \`msp status\` to list services.`);
      }
      return new Map(rows.map((r) => [r.environment, r]));
    },

    async pipelineFor(id, rows) {
      const spec = specOf(rows.values().next().value!).service;
      if (!spec.rollout) {
        throw new PreconditionFailedError(
          `${id} has no rollout pipeline (no \`rollout\` block in its spec); deploy a release with \`msp deploy ${id} <env> --release <version>\`.`,
        );
      }
      return pipelineOf({
        service: id,
        stages: spec.rollout.stages.map((s) => s.environment),
        suspendedInSpec: spec.rollout.suspended ?? false,
        suspendedOverride: await rollouts.suspendedOverride(id),
      });
    },

    async runningIn(id, rows) {
      const stages = await rollouts.stages(id);
      const current: Record<string, StageRelease | undefined> = {};
      for (const [env, row] of rows) {
        const recorded = stages.get(env)?.current;
        current[env] =
          recorded ??
          (row.targetRelease
            ? { version: row.targetRelease.version, target: row.targetRelease }
            : row.release
              ? { version: row.release, target: null }
              : undefined);
      }
      return { stages, current };
    },

    async releaseTarget(id, v) {
      let release: Release;
      try {
        release = await registry.client.get(id, v);
      } catch (error) {
        if ((error as { status?: number }).status === 404) {
          throw new NotFoundError(`${id} has no release ${v}; list them with \`msp release list ${id}\`.`);
        }
        throw error;
      }
      const bundle = release.artifacts.find((a) => a.kind === 'bundle');
      if (!bundle) {
        throw new PreconditionFailedError(
          `${id} ${v} has no bundle artifact (only ${release.artifacts.map((a) => a.kind).join(', ') || 'nothing'}): the local runtime runs bundles; create the release with --from.`,
        );
      }
      return { version: v, artifact: { digest: bundle.digest, url: bundle.url } };
    },

    async passedAndFailed(id) {
      const history = await rollouts.history(id, 1000);
      const passed = (v: string, env: string) =>
        history.some((h) => h.version === v && h.toEnvironment === env && h.outcome === 'succeeded');
      const failed = (v: string) =>
        history.some((h) => h.version === v && (h.outcome === 'rolled-back' || h.outcome === 'failed')) &&
        !history.some((h) => h.version === v && h.outcome === 'succeeded');
      return { history, passed, failed };
    },

    async enqueueMove(row, move, who, previous) {
      if (move.target?.artifact) await artifacts.verify(move.target.artifact.digest);
      const input: MoveInput = { service: row.service, environment: row.environment, previous, ...move };
      return enqueueExplained(
        store,
        engine,
        {
          kind: move.action,
          deploymentKey: row.key,
          reason: `${move.action} ${row.service} ${move.version} to ${row.environment}${move.from ? ` from ${move.from}` : ''}`,
          createdBy: who,
          input: input as unknown as Record<string, unknown>,
        },
        'and run the command again',
      );
    },

    async notify(row, message, severity, data) {
      const spec = specOf(row);
      await store.addEvent({
        deploymentKey: row.key,
        kind: 'notification',
        message,
        data: {
          channels: expandChannels(spec.envConfig.notifications.channels, row.service, row.environment),
          severity,
          ...data,
        },
      });
    },
  };
}
