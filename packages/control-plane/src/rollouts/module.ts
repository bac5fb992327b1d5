/**
 * Releases and rollouts: `release create` packs the service's code into the artifact store and registers
 * it, continuous delivery puts it on the first stage, promotion moves the same artifact to the next stage,
 * rollback redeploys what a stage ran before. Each move is one operation on the target deployment: it sets
 * the deployment's target release and runs its runtime target's deploy steps (on the local runtime: health
 * gate, switch, soak);
 * a failure leaves or returns traffic to the previous release and restores the target. Every move is in
 * the rollout history; deliveries, promotions and rollbacks become notification events.
 *
 * This file wires the parts: service.ts (what routes and operations share), operations.ts (the moves),
 * release-routes.ts (/releases, /artifacts) and routes.ts (/rollouts).
 */
import { createArtifactStore } from '@msp/runtime-local';
import type { FeatureContext, FeatureModule } from '../server.js';
import { ROLLOUT_KINDS } from './inputs.js';
import { createRolloutHandler } from './operations.js';
import { connectRegistry } from './registry.js';
import { releaseApi } from './release-routes.js';
import { rolloutApi } from './routes.js';
import { createRolloutService, type RolloutDeps } from './service.js';
import { ROLLOUT_MIGRATIONS, createRolloutStore } from './store.js';

export { ROLLOUT_KINDS };

export function createRolloutsModule(): FeatureModule {
  return {
    name: 'rollouts',
    migrations: ROLLOUT_MIGRATIONS,
    async setup(ctx: FeatureContext) {
      const { store, engine, runtime, targets } = ctx;
      const deps: RolloutDeps = {
        store,
        engine,
        rollouts: createRolloutStore(ctx.db),
        artifacts: createArtifactStore({ root: ctx.dataDir.root }),
        registry: await connectRegistry({ store, db: ctx.db, repoDir: ctx.repoDir }),
      };
      const service = createRolloutService(deps);
      return {
        handlers: [createRolloutHandler(service, { ...deps, runtime, targets, log: ctx.log })],
        routes: [
          (api) => releaseApi(api, service, { ...deps, repoDir: ctx.repoDir }),
          (api) => rolloutApi(api, service, { ...deps, runtime }),
        ],
        ...(deps.registry.app ? { mounts: [{ path: '/registry', app: deps.registry.app }] } : {}),
      };
    },
  };
}
