/**
 * Managed instances: the create, upgrade and delete playbooks as operations (playbooks.ts), the /instances
 * API (routes.ts), and the TTL loop that warns before a dev instance's TTL runs out and deletes it after
 * (a final backup first). Restores of an instance are the backups feature's (`POST /restores`).
 */
import { loadPlatformRepo } from '@msp/spec';
import { createArtifactStore } from '@msp/runtime-local';
import type { FeatureContext, FeatureModule } from '../server.js';
import { createBackupStore } from '../backups/store.js';
import { connectRegistry } from '../rollouts/registry.js';
import { FLEET_MIGRATIONS, createFleets, DEFAULT_RINGS } from './fleet.js';
import { fleetApi } from './fleet-routes.js';
import { INSTANCE_KINDS } from './inputs.js';
import { createInstanceHandlers, syncRow } from './playbooks.js';
import { instanceApi } from './routes.js';
import { createInstanceService, type InstanceService } from './service.js';

export { INSTANCE_KINDS };

export interface InstancesModuleOptions {
  /** How often the TTL loop looks (default 30 s; MSP_INSTANCE_TTL_CHECK_SECONDS). */
  ttlCheckMs?: number;
  /** How often running fleets are driven (default 2 s). */
  fleetTickMs?: number;
}

export function createInstancesModule(options: InstancesModuleOptions = {}): FeatureModule {
  return {
    name: 'instances',
    migrations: FLEET_MIGRATIONS,
    async setup(ctx: FeatureContext) {
      const { store, engine } = ctx;
      const backups = createBackupStore(ctx.db);
      const registry = await connectRegistry({ store, db: ctx.db, repoDir: ctx.repoDir });
      const artifacts = createArtifactStore({ root: ctx.dataDir.root });
      const playbookDeps = {
        store,
        backups,
        targets: ctx.targets,
        log: ctx.log,
        repoDir: ctx.repoDir,
        migrator: async () => (await loadPlatformRepo(ctx.repoDir)).repo?.platform.instances?.migrator,
      };
      const service = createInstanceService({
        store,
        engine,
        backups,
        runtime: ctx.runtime,
        registry: registry.client,
        artifacts,
        repoDir: ctx.repoDir,
        syncRow: (key) => syncRow(playbookDeps, key),
      });
      const every = options.ttlCheckMs ?? Number(process.env.MSP_INSTANCE_TTL_CHECK_SECONDS ?? 30) * 1000;
      const fleets = createFleets({
        db: ctx.db,
        store,
        service,
        log: ctx.log,
        rings: async () => {
          const cfg = (await loadPlatformRepo(ctx.repoDir)).repo?.platform.instances;
          return { plan: cfg?.rings ?? DEFAULT_RINGS, ...(cfg?.soak ? { soak: cfg.soak } : {}) };
        },
      });
      let timer: NodeJS.Timeout | undefined;
      let fleetTimer: NodeJS.Timeout | undefined;
      let ticking = false;
      return {
        handlers: createInstanceHandlers(playbookDeps),
        routes: [(api) => instanceApi(api, service, { store, backups }), (api) => fleetApi(api, fleets)],
        start: () => {
          timer = setInterval(() => {
            void checkTtls(service, ctx).catch((e: unknown) => ctx.log(`instances: TTL: ${String(e)}`));
          }, every);
          fleetTimer = setInterval(() => {
            if (ticking) return;
            ticking = true;
            void fleets
              .tick()
              .catch((e: unknown) => ctx.log(`instances: fleets: ${String(e)}`))
              .finally(() => (ticking = false));
          }, options.fleetTickMs ?? 2000);
          return Promise.resolve();
        },
        stop: () => {
          clearInterval(timer);
          clearInterval(fleetTimer);
          return Promise.resolve();
        },
      };
    },
  };
}

/**
 * Instances whose TTL runs out: a warning event once the last quarter of it (at most an hour) has begun,
 * then, once expired, the delete playbook (final backup kept).
 */
export async function checkTtls(service: InstanceService, ctx: Pick<FeatureContext, 'store' | 'log'>) {
  const now = Date.now();
  for (const inst of await service.list()) {
    if (!inst.expiresAt || inst.type === 'production' || inst.runningOperation) continue;
    const expires = Date.parse(inst.expiresAt);
    const ttlMs = Math.max(1000, ttlOf(inst.ttl));
    const warnFrom = expires - Math.min(3_600_000, ttlMs / 4);
    if (now >= expires) {
      const op = await service.remove(inst.env, inst.id, { expired: true }, 'ttl');
      ctx.log(`instances: TTL of ${inst.key} ran out: deleting it (operation ${'id' in op ? op.id : '?'})`);
    } else if (now >= warnFrom) {
      const events = await ctx.store.listEvents({ deploymentKey: inst.key, limit: 50 });
      if (events.some((e) => e.kind === 'instance-expiring' && e.data.expiresAt === inst.expiresAt)) continue;
      await ctx.store.addEvent({
        deploymentKey: inst.key,
        kind: 'instance-expiring',
        message: `instance ${inst.env}/${inst.id} of ${inst.customer} expires at ${inst.expiresAt} and will then be deleted (a final backup is kept); extend it with \`msp instance extend ${inst.env}/${inst.id} --ttl 24h\``,
        data: { expiresAt: inst.expiresAt },
      });
    }
  }
}

function ttlOf(ttl: string | null): number {
  const m = ttl ? /^(\d+)(s|m|h|d)$/.exec(ttl) : null;
  if (!m) return 0;
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}
