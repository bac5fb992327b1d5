/* Over 400 lines: the routes closure below is being moved to @hono/zod-openapi by another change; split it after. */
/**
 * Releases and rollouts: `release create` packs the service's code into the artifact store and registers
 * it, continuous delivery puts it on the first stage, promotion moves the same artifact to the next stage,
 * rollback redeploys what a stage ran before. Each move is one operation on the target deployment: it sets
 * the deployment's target release and runs its runtime target's deploy steps (on the local runtime: health
 * gate, switch, soak);
 * a failure leaves or returns traffic to the previous release and restores the target. Every move is in
 * the rollout history; deliveries, promotions and rollbacks become notification events.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import {
  ConflictError,
  InputError,
  NotFoundError,
  PreconditionFailedError,
  expandChannels,
  isSuspended,
  pipelineOf,
  planDelivery,
  planPromotion,
  type Operation,
  type DeploymentSpec,
  type Pipeline,
} from '@msp/core';
import { createArtifactStore } from '@msp/runtime-local';
import type { Release } from '@msp/releaseregistry';
import { parseBody, type ApiRoutes } from '../api/app.js';
import { healthOf } from '../deployments/health.js';
import type { OperationHandler, StepContext } from '../operations/engine.js';
import { inputOf } from '../operations/inputs.js';
import type { FeatureContext, FeatureModule } from '../server.js';
import type { DeploymentRow, TargetRelease } from '../state/store.js';
import { ROLLOUT_KINDS, moveInput, type MoveInput } from './inputs.js';
import {
  releaseCreateBody,
  releasePublishBody,
  rolloutDeployBody,
  rolloutPromoteBody,
  rolloutRollbackBody,
  rolloutServiceBody,
} from './schemas.js';
import { connectRegistry, type RegistryConnection } from './registry.js';
import { ROLLOUT_MIGRATIONS, createRolloutStore, type StageRelease } from './store.js';

export { ROLLOUT_KINDS };

const RELEASE_STEP = 'release';
const PIPELINE_STEP = 'pipeline';

export function createRolloutsModule(): FeatureModule {
  return {
    name: 'rollouts',
    migrations: ROLLOUT_MIGRATIONS,
    async setup(ctx: FeatureContext) {
      const { store, engine, runtime, targets } = ctx;
      const rollouts = createRolloutStore(ctx.db);
      const artifacts = createArtifactStore({ root: ctx.dataDir.root });
      const registry: RegistryConnection = await connectRegistry({ store, db: ctx.db, repoDir: ctx.repoDir });

      /** The service's deployments (declared in the repo), by environment. */
      async function deploymentsOf(id: string): Promise<Map<string, DeploymentRow>> {
        const rows = (await store.listDeployments()).filter(
          (d) => d.kind === 'service' && d.service === id && d.desiredState !== 'deleted',
        );
        if (rows.length === 0) {
          throw new NotFoundError(`No service '${id}' is deployed. Run \`msp status\` to list services.`);
        }
        return new Map(rows.map((r) => [r.environment, r]));
      }
      const specOf = (row: DeploymentRow) => row.spec as DeploymentSpec;

      async function pipelineFor(id: string, rows: Map<string, DeploymentRow>): Promise<Pipeline> {
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
      }

      /** What a stage runs: the recorded release, else what its deployment reports (the working tree). */
      async function runningIn(id: string, rows: Map<string, DeploymentRow>) {
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
      }

      async function releaseTarget(id: string, v: string): Promise<TargetRelease> {
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
      }

      async function enqueueMove(
        row: DeploymentRow,
        move: Omit<MoveInput, 'service' | 'environment' | 'previous'>,
        who: string,
        previous: StageRelease | null,
      ): Promise<Operation> {
        if (move.target?.artifact) await artifacts.verify(move.target.artifact.digest);
        const input: MoveInput = { service: row.service, environment: row.environment, previous, ...move };
        return engine.enqueue({
          kind: move.action,
          deploymentKey: row.key,
          reason: `${move.action} ${row.service} ${move.version} to ${row.environment}${move.from ? ` from ${move.from}` : ''}`,
          createdBy: who,
          input: input as unknown as Record<string, unknown>,
        });
      }

      async function notify(row: DeploymentRow, message: string, severity: 'info' | 'warning', data: object) {
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
      }

      const moveOf = (op: Operation) => inputOf(op, moveInput) as MoveInput;

      const handler: OperationHandler = {
        kinds: ROLLOUT_KINDS,
        // The deploy steps are the deployment's own target's: rollouts run them through it.
        steps: async (_kind, _input, key) => [
          RELEASE_STEP,
          ...(await targets.of(key)).steps.deploy,
          PIPELINE_STEP,
        ],
        async runStep(step: string, sctx: StepContext) {
          const op = sctx.operation;
          const input = moveOf(op);
          if (step === RELEASE_STEP) {
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
          if (step === PIPELINE_STEP) {
            const row = await store.requireDeployment(op.deploymentKey);
            const current: StageRelease = { version: input.version, target: input.target };
            const previous =
              input.previous && input.previous.version !== input.version ? input.previous : null;
            await rollouts.setStage(input.service, input.environment, current, previous);
            await rollouts.finish(op.id, 'succeeded', null);
            const verb = {
              deliver: 'delivered',
              promote: 'promoted',
              rollback: 'rolled back',
              'deploy-release': 'deployed',
            }[input.action];
            await notify(
              row,
              `${input.service} ${input.version} ${verb} to ${input.environment}${input.from ? ` from ${input.from}` : ''} by ${op.createdBy}${input.previous ? ` (was ${input.previous.version})` : ''}`,
              input.action === 'rollback' ? 'warning' : 'info',
              {
                action: input.action,
                version: input.version,
                previousVersion: input.previous?.version ?? null,
              },
            );
            return `${input.environment} runs ${input.version}`;
          }
          return (await targets.of(op.deploymentKey)).runStep(step, sctx);
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
            serving ? healthOf(row.spec as DeploymentSpec, states).status : 'failed',
            `${input.version} rolled back: ${reason.split('\n')[0]}`,
          );
          await notify(
            row,
            `${input.service} ${input.version} failed on ${input.environment} and was rolled back${input.previous ? ` to ${input.previous.version}` : ''}: ${reason.split('\n')[0]}`,
            'warning',
            { action: 'rollback', version: input.version, previousVersion: input.previous?.version ?? null },
          );
          if (!serving && input.previous && input.action !== 'rollback') {
            // Nothing serves (a control plane restarted mid-move, say): bring the previous release back.
            await enqueueMove(
              row,
              {
                action: 'rollback',
                version: input.previous.version,
                target: input.previous.target,
                from: null,
              },
              'rollouts',
              { version: input.version, target: input.target },
            ).catch((e: unknown) => ctx.log(`rollouts: cannot roll back ${row.key}: ${String(e)}`));
          }
        },
      };

      async function passedAndFailed(id: string) {
        const history = await rollouts.history(id, 1000);
        const passed = (v: string, env: string) =>
          history.some((h) => h.version === v && h.toEnvironment === env && h.outcome === 'succeeded');
        const failed = (v: string) =>
          history.some((h) => h.version === v && (h.outcome === 'rolled-back' || h.outcome === 'failed')) &&
          !history.some((h) => h.version === v && h.outcome === 'succeeded');
        return { history, passed, failed };
      }

      const routes: ApiRoutes = (api) => {
        api.get('/releases', async (c) => {
          const id = c.req.query('service');
          return c.json({ registry: registry.describe, releases: await registry.client.list(id) });
        });

        api.post('/releases', async (c) => {
          const body = await parseBody(c, releaseCreateBody);
          const who = c.get('principal').name;
          const rows = await deploymentsOf(body.service);
          const first = specOf(rows.values().next().value!);
          const hasPipeline = first.service.rollout !== undefined;
          // A suspended pipeline refuses the release before anything is registered.
          const pipeline = hasPipeline ? await pipelineFor(body.service, rows) : undefined;
          const move = pipeline ? planDelivery(pipeline, body.version) : undefined;
          try {
            await registry.client.get(body.service, body.version);
            throw new ConflictError(
              `${body.service} ${body.version} already exists; versions are immutable: pick the next one (e.g. \`msp release list ${body.service}\`).`,
            );
          } catch (error) {
            if ((error as { status?: number }).status !== 404) throw error;
          }
          if (body.from && body.image) throw new InputError('Give --from or --image, not both.');
          let artifact: { digest: string; url: string; kind: 'bundle' | 'image'; size?: number };
          let sourceDir: string | undefined;
          if (body.image) {
            const m = /@(sha256:[0-9a-f]{64})$/.exec(body.image);
            if (!m) {
              throw new InputError(
                `--image ${body.image} has no digest: give an image reference pinned by digest (…@sha256:<64 hex>).`,
              );
            }
            artifact = { digest: m[1]!, url: body.image, kind: 'image' };
          } else {
            const local = first.service.build?.local;
            sourceDir = body.from
              ? resolve(body.from)
              : local
                ? resolve(first.serviceDir, local.dir)
                : undefined;
            if (!sourceDir) {
              throw new InputError(
                `${body.service} has no build.local.dir: give the built code with --from DIR.`,
              );
            }
            const packed = await artifacts.pack(sourceDir);
            artifact = {
              digest: packed.digest,
              url: `file://${packed.path}`,
              kind: 'bundle',
              size: packed.size,
            };
          }
          const gitSha = body.gitSha ?? gitShaOf(sourceDir ?? ctx.repoDir) ?? artifact.digest.slice(7, 47);
          const release = await registry.client.create({
            name: body.service,
            version: body.version,
            git_sha: gitSha,
            is_development: body.development ?? false,
            artifacts: [artifact],
          });
          let operation: Operation | undefined;
          if (move && artifact.kind === 'bundle') {
            const row = rows.get(move.to);
            if (!row) throw new NotFoundError(`Stage ${move.to} of ${body.service} is not deployed.`);
            const { current } = await runningIn(body.service, rows);
            operation = await enqueueMove(
              row,
              {
                action: 'deliver',
                version: body.version,
                target: { version: body.version, artifact: { digest: artifact.digest, url: artifact.url } },
                from: null,
                ...(body.soakSeconds !== undefined ? { soakSeconds: body.soakSeconds } : {}),
              },
              who,
              current[move.to] ?? null,
            );
          }
          return c.json({ release, operation: operation ?? null, deliveredTo: move?.to ?? null }, 201);
        });

        api.post('/releases/publish', async (c) => {
          const body = await parseBody(c, releasePublishBody);
          return c.json(await registry.client.promote(body.service, body.version));
        });

        api.get('/rollouts/status', async (c) => {
          const id = c.req.query('service');
          if (!id) throw new InputError('Give the service: /rollouts/status?service=<id>.');
          const rows = await deploymentsOf(id);
          const pipeline = await pipelineFor(id, rows);
          const { stages, current } = await runningIn(id, rows);
          const { history, passed, failed } = await passedAndFailed(id);
          const ops = await store.listOperations({ unfinished: true, limit: 1000 });
          return c.json({
            service: id,
            suspended: isSuspended(pipeline),
            suspendedInSpec: pipeline.suspendedInSpec,
            suspendedOverride: pipeline.suspendedOverride ?? null,
            stages: pipeline.stages.map((env, i) => {
              const row = rows.get(env);
              const rt = row ? runtime.status(row.key) : undefined;
              const prevEnv = i > 0 ? pipeline.stages[i - 1]! : undefined;
              const candidates = prevEnv
                ? [
                    ...new Set(
                      history
                        .filter((h) => h.toEnvironment === prevEnv && h.outcome === 'succeeded')
                        .map((h) => h.version),
                    ),
                  ].filter((v) => v !== current[env]?.version && !passed(v, env) && !failed(v))
                : [];
              return {
                environment: env,
                deployment: row?.key ?? null,
                release: current[env]?.version ?? null,
                artifact: current[env]?.target?.artifact?.digest ?? null,
                previous: stages.get(env)?.previous?.version ?? null,
                status: row?.status ?? 'not deployed',
                statusDetail: row?.statusDetail ?? null,
                instances:
                  rt?.instances.map((x) => ({ id: x.id, state: x.state, release: x.release ?? null })) ?? [],
                operation: ops.find((o) => o.deploymentKey === row?.key)?.id ?? null,
                pendingCandidates: candidates,
              };
            }),
          });
        });

        api.post('/rollouts/promote', async (c) => {
          const body = await parseBody(c, rolloutPromoteBody);
          const rows = await deploymentsOf(body.service);
          const pipeline = await pipelineFor(body.service, rows);
          const { current } = await runningIn(body.service, rows);
          const { passed, failed } = await passedAndFailed(body.service);
          const move = planPromotion(pipeline, {
            ...(body.to ? { to: body.to } : {}),
            ...(body.version ? { version: body.version } : {}),
            current: Object.fromEntries(Object.entries(current).map(([k, v]) => [k, v?.version])),
            // The release running in the previous stage has passed through it (even the working tree).
            passed: (v, env) => passed(v, env) || current[env]?.version === v,
            failed,
          });
          const row = rows.get(move.to)!;
          const fromRelease = current[move.from!];
          const target =
            fromRelease?.version === move.version && fromRelease.target
              ? fromRelease.target
              : await releaseTarget(body.service, move.version);
          if (!target.artifact) {
            throw new PreconditionFailedError(
              `${move.from} runs ${move.version} from the working tree, not a release artifact: create a release first (\`msp release create ${body.service} --version …\`).`,
            );
          }
          const op = await enqueueMove(
            row,
            {
              action: 'promote',
              version: move.version,
              target,
              from: move.from!,
              ...(body.soakSeconds !== undefined ? { soakSeconds: body.soakSeconds } : {}),
            },
            c.get('principal').name,
            current[move.to] ?? null,
          );
          return c.json({ move, operation: op }, 202);
        });

        for (const [path, value] of [
          ['/rollouts/suspend', true],
          ['/rollouts/resume', false],
        ] as const) {
          api.post(path, async (c) => {
            const body = await parseBody(c, rolloutServiceBody);
            const rows = await deploymentsOf(body.service);
            await pipelineFor(body.service, rows);
            await rollouts.setSuspended(body.service, value, c.get('principal').name);
            await store.addEvent({
              kind: value ? 'rollout-suspended' : 'rollout-resumed',
              message: `${c.get('principal').name} ${value ? 'suspended' : 'resumed'} the rollout pipeline of ${body.service}`,
              data: { service: body.service },
            });
            return c.json({ service: body.service, suspended: value });
          });
        }

        api.post('/rollouts/rollback', async (c) => {
          const body = await parseBody(c, rolloutRollbackBody);
          const rows = await deploymentsOf(body.service);
          const row = rows.get(body.environment);
          if (!row) throw new NotFoundError(`${body.service} has no environment ${body.environment}.`);
          const { stages, current } = await runningIn(body.service, rows);
          const previous = stages.get(body.environment)?.previous;
          if (!previous) {
            throw new PreconditionFailedError(
              `${body.service} ${body.environment} has no previous release to roll back to (see \`msp rollout history ${body.service}\`).`,
            );
          }
          const op = await enqueueMove(
            row,
            {
              action: 'rollback',
              version: previous.version,
              target: previous.target,
              from: null,
              ...(body.soakSeconds !== undefined ? { soakSeconds: body.soakSeconds } : {}),
            },
            c.get('principal').name,
            current[body.environment] ?? null,
          );
          return c.json({ operation: op }, 202);
        });

        api.post('/rollouts/deploy', async (c) => {
          const body = await parseBody(c, rolloutDeployBody);
          const rows = await deploymentsOf(body.service);
          const row = rows.get(body.environment);
          if (!row) throw new NotFoundError(`${body.service} has no environment ${body.environment}.`);
          const type = specOf(row).environment.deploy.type;
          if (type === 'rollout') {
            throw new PreconditionFailedError(
              `${body.service} ${body.environment} is a rollout stage: releases reach it by delivery or \`msp rollout promote ${body.service} --to ${body.environment}\`.`,
            );
          }
          const { current } = await runningIn(body.service, rows);
          const op = await enqueueMove(
            row,
            {
              action: 'deploy-release',
              version: body.version,
              target: await releaseTarget(body.service, body.version),
              from: null,
              ...(body.soakSeconds !== undefined ? { soakSeconds: body.soakSeconds } : {}),
            },
            c.get('principal').name,
            current[body.environment] ?? null,
          );
          return c.json({ operation: op }, 202);
        });

        api.get('/rollouts/history', async (c) => {
          const id = c.req.query('service');
          if (!id) throw new InputError('Give the service: /rollouts/history?service=<id>.');
          return c.json({ service: id, history: await rollouts.history(id) });
        });
      };

      return {
        handlers: [handler],
        routes: [routes],
        ...(registry.app ? { mounts: [{ path: '/registry', app: registry.app }] } : {}),
      };
    },
  };
}

function gitShaOf(dir: string): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return undefined;
  }
}
