/**
 * The rollout operations (deliver, promote, rollback, deploy-release): each sets the deployment's target
 * release, runs its runtime target's deploy steps, then records the stage. A failed move returns the
 * target to what ran before, records the rollback and, when nothing serves, queues the previous release.
 */
import type { Operation } from '@msp/core';
import type { OperationHandler, StepContext } from '../operations/engine.js';
import { healthOf } from '../deployments/health.js';
import { inputOf } from '../operations/inputs.js';
import type { RuntimeTarget } from '../runtime-port.js';
import type { RuntimeTargets } from '../targets/registry.js';
import { ROLLOUT_KINDS, moveInput, type MoveInput } from './inputs.js';
import { specOf, type RolloutDeps, type RolloutService } from './service.js';
import type { StageRelease } from './store.js';

const RELEASE_STEP = 'release';
const PIPELINE_STEP = 'pipeline';

export interface RolloutHandlerDeps extends Pick<RolloutDeps, 'store' | 'rollouts' | 'artifacts'> {
  runtime: RuntimeTarget;
  targets: RuntimeTargets;
  log: (line: string) => void;
}

const moveOf = (op: Operation) => inputOf(op, moveInput) as MoveInput;

const VERB: Record<MoveInput['action'], string> = {
  deliver: 'delivered',
  promote: 'promoted',
  rollback: 'rolled back',
  'deploy-release': 'deployed',
};

export function createRolloutHandler(service: RolloutService, deps: RolloutHandlerDeps): OperationHandler {
  const { store, rollouts, artifacts, runtime, targets } = deps;

  /** Records the move and points the deployment at the release (its artifact verified). */
  async function releaseStep(sctx: StepContext): Promise<string> {
    const op = sctx.operation;
    const input = moveOf(op);
    await rollouts.begin({
      service: input.service,
      action: input.action,
      version: input.version,
      fromEnvironment: input.from,
      toEnvironment: input.environment,
      previousVersion: input.previous?.version ?? null,
      actor: op.createdBy,
      operationId: op.id,
      startedAt: op.createdAt,
    });
    if (input.target?.artifact) {
      await artifacts.verify(input.target.artifact.digest);
      await sctx.log(`artifact ${input.target.artifact.digest} verified`);
    }
    await store.setTargetRelease(op.deploymentKey, input.target);
    return `${input.version}${input.target?.artifact ? ` (${input.target.artifact.digest.slice(0, 19)}…)` : ' (working tree)'}`;
  }

  /** The deploy steps passed: the stage runs the release, and the move is announced. */
  async function pipelineStep(sctx: StepContext): Promise<string> {
    const op = sctx.operation;
    const input = moveOf(op);
    const row = await store.requireDeployment(op.deploymentKey);
    const current: StageRelease = { version: input.version, target: input.target };
    const previous = input.previous && input.previous.version !== input.version ? input.previous : null;
    await rollouts.setStage(input.service, input.environment, current, previous);
    await rollouts.finish(op.id, 'succeeded', null);
    await service.notify(
      row,
      `${input.service} ${input.version} ${VERB[input.action]} to ${input.environment}${input.from ? ` from ${input.from}` : ''} by ${op.createdBy}${input.previous ? ` (was ${input.previous.version})` : ''}`,
      input.action === 'rollback' ? 'warning' : 'info',
      {
        action: input.action,
        version: input.version,
        previousVersion: input.previous?.version ?? null,
      },
    );
    return `${input.environment} runs ${input.version}`;
  }

  return {
    kinds: ROLLOUT_KINDS,
    // The deploy steps are the deployment's own target's: rollouts run them through it.
    steps: async (_kind, _input, key) => [
      RELEASE_STEP,
      ...(await targets.of(key)).steps.deploy,
      PIPELINE_STEP,
    ],
    async runStep(step: string, sctx: StepContext) {
      if (step === RELEASE_STEP) return releaseStep(sctx);
      if (step === PIPELINE_STEP) return pipelineStep(sctx);
      return (await targets.of(sctx.operation.deploymentKey)).runStep(step, sctx);
    },
    async onFinished(op) {
      if (op.status !== 'failed') return;
      const input = moveOf(op);
      const row = await store.getDeployment(op.deploymentKey);
      if (!row) return;
      // The target goes back to what ran before, so nothing redeploys the failed release by itself.
      await store.setTargetRelease(op.deploymentKey, input.previous?.target ?? null);
      const serving = runtime.isRunning(op.deploymentKey);
      const reason = op.error ?? 'failed';
      await rollouts.finish(op.id, serving ? 'rolled-back' : 'failed', reason);
      // Healthy only with the minimum of healthy instances (deployments/health.ts).
      const states = (runtime.status(op.deploymentKey)?.instances ?? []).map((i) => i.state);
      await store.setStatus(
        op.deploymentKey,
        serving ? healthOf(specOf(row), states).status : 'failed',
        `${input.version} rolled back: ${reason.split('\n')[0]}`,
      );
      await service.notify(
        row,
        `${input.service} ${input.version} failed on ${input.environment} and was rolled back${input.previous ? ` to ${input.previous.version}` : ''}: ${reason.split('\n')[0]}`,
        'warning',
        { action: 'rollback', version: input.version, previousVersion: input.previous?.version ?? null },
      );
      if (!serving && input.previous && input.action !== 'rollback') {
        // Nothing serves (a control plane restarted mid-move, say): bring the previous release back.
        await service
          .enqueueMove(
            row,
            {
              action: 'rollback',
              version: input.previous.version,
              target: input.previous.target,
              from: null,
            },
            'rollouts',
            { version: input.version, target: input.target },
          )
          .catch((e: unknown) => deps.log(`rollouts: cannot roll back ${row.key}: ${String(e)}`));
      }
    },
  };
}
