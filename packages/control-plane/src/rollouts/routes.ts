/**
 * The /rollouts API: a pipeline's status and history, promotion to the next stage, suspend and resume,
 * rollback of a stage and deploying a release to a stage outside the pipeline. Moves are queued as
 * operations (operations.ts); defined with their schemas (schemas.ts).
 */
import { NotFoundError, PreconditionFailedError, isSuspended, planPromotion } from '@msp/core';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { apiRouter, type ApiEnv } from '../api/app.js';
import type { RuntimeTarget } from '../runtime-port.js';
import { releaseRoutes } from './schemas.js';
import { specOf, type RolloutDeps, type RolloutService } from './service.js';

export function rolloutApi(
  api: OpenAPIHono<ApiEnv>,
  service: RolloutService,
  deps: Pick<RolloutDeps, 'store' | 'rollouts'> & { runtime: RuntimeTarget },
): void {
  const { store, rollouts, runtime } = deps;
  const r = releaseRoutes;
  const app = apiRouter();

  app.openapi(r.status, async (c) => {
    const id = c.req.valid('query').service;
    const rows = await service.deploymentsOf(id);
    const pipeline = await service.pipelineFor(id, rows);
    const { stages, current } = await service.runningIn(id, rows);
    const { history, passed, failed } = await service.passedAndFailed(id);
    const ops = await store.listOperations({ unfinished: true, limit: 1000 });
    return c.json(
      {
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
      },
      200,
    );
  });

  app.openapi(r.promote, async (c) => {
    const body = c.req.valid('json');
    const rows = await service.deploymentsOf(body.service);
    const pipeline = await service.pipelineFor(body.service, rows);
    const { current } = await service.runningIn(body.service, rows);
    const { passed, failed } = await service.passedAndFailed(body.service);
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
        : await service.releaseTarget(body.service, move.version);
    if (!target.artifact) {
      throw new PreconditionFailedError(
        `${move.from} runs ${move.version} from the working tree, not a release artifact: create a release first (\`msp release create ${body.service} --version …\`).`,
      );
    }
    const op = await service.enqueueMove(
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

  for (const [route, value] of [
    [r.suspend, true],
    [r.resume, false],
  ] as const) {
    app.openapi(route, async (c) => {
      const body = c.req.valid('json');
      const rows = await service.deploymentsOf(body.service);
      await service.pipelineFor(body.service, rows);
      await rollouts.setSuspended(body.service, value, c.get('principal').name);
      await store.addEvent({
        kind: value ? 'rollout-suspended' : 'rollout-resumed',
        message: `${c.get('principal').name} ${value ? 'suspended' : 'resumed'} the rollout pipeline of ${body.service}`,
        data: { service: body.service },
      });
      return c.json({ service: body.service, suspended: value }, 200);
    });
  }

  app.openapi(r.rollback, async (c) => {
    const body = c.req.valid('json');
    const rows = await service.deploymentsOf(body.service);
    const row = rows.get(body.environment);
    if (!row) throw new NotFoundError(`${body.service} has no environment ${body.environment}.`);
    const { stages, current } = await service.runningIn(body.service, rows);
    const previous = stages.get(body.environment)?.previous;
    if (!previous) {
      throw new PreconditionFailedError(
        `${body.service} ${body.environment} has no previous release to roll back to (see \`msp rollout history ${body.service}\`).`,
      );
    }
    const op = await service.enqueueMove(
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

  app.openapi(r.deploy, async (c) => {
    const body = c.req.valid('json');
    const rows = await service.deploymentsOf(body.service);
    const row = rows.get(body.environment);
    if (!row) throw new NotFoundError(`${body.service} has no environment ${body.environment}.`);
    if (specOf(row).environment.deploy.type === 'rollout') {
      throw new PreconditionFailedError(
        `${body.service} ${body.environment} is a rollout stage: releases reach it by delivery or \`msp rollout promote ${body.service} --to ${body.environment}\`.`,
      );
    }
    const { current } = await service.runningIn(body.service, rows);
    const op = await service.enqueueMove(
      row,
      {
        action: 'deploy-release',
        version: body.version,
        target: await service.releaseTarget(body.service, body.version),
        from: null,
        ...(body.soakSeconds !== undefined ? { soakSeconds: body.soakSeconds } : {}),
      },
      c.get('principal').name,
      current[body.environment] ?? null,
    );
    return c.json({ operation: op }, 202);
  });

  app.openapi(r.history, async (c) => {
    const id = c.req.valid('query').service;
    return c.json({ service: id, history: await rollouts.history(id) }, 200);
  });
  api.route('/', app);
}
