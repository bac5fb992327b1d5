/** The /instances API (instanceRoutes in schemas.ts). */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { apiRouter, type ApiEnv } from '../api/app.js';
import type { BackupStore } from '../backups/store.js';
import type { StateStore } from '../state/store.js';
import { instanceKey } from './repo-files.js';
import { instanceRoutes as r } from './schemas.js';
import type { InstanceService } from './service.js';

export function instanceApi(
  api: OpenAPIHono<ApiEnv>,
  service: InstanceService,
  deps: { store: StateStore; backups: BackupStore },
): void {
  const app = apiRouter();
  app.openapi(r.list, async (c) => {
    const { env } = c.req.valid('query');
    return c.json({ instances: await service.list(env) }, 200);
  });
  app.openapi(r.show, async (c) => {
    const { env, id } = c.req.valid('param');
    const row = await service.rowOf(env, id);
    const [instance, operations, events] = await Promise.all([
      service.view(row),
      deps.store.listOperations({ deploymentKey: row.key, limit: 10 }),
      deps.store.listEvents({ deploymentKey: row.key, limit: 20 }),
    ]);
    return c.json({ instance, operations, events }, 200);
  });
  app.openapi(r.backups, async (c) => {
    const { env, id } = c.req.valid('param');
    return c.json({ backups: await deps.backups.list(instanceKey(env, id)) }, 200);
  });
  app.openapi(r.create, async (c) => {
    const body = c.req.valid('json');
    return c.json(await service.create(body, c.get('principal').name), 202);
  });
  app.openapi(r.upgrade, async (c) => {
    const { env, id } = c.req.valid('param');
    return c.json(await service.upgrade(env, id, c.req.valid('json'), c.get('principal').name), 202);
  });
  app.openapi(r.delete, async (c) => {
    const { env, id } = c.req.valid('param');
    return c.json(await service.remove(env, id, c.req.valid('json'), c.get('principal').name), 202);
  });
  app.openapi(r.extend, async (c) => {
    const { env, id } = c.req.valid('param');
    return c.json(await service.extend(env, id, c.req.valid('json'), c.get('principal').name), 200);
  });
  api.route('/', app);
}
