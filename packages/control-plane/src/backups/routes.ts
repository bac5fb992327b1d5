/** The /backups and /restores API of the backups feature, defined once with their schemas (backups/schemas.ts). */
import {
  ConflictError,
  InputError,
  NotFoundError,
  PreconditionFailedError,
  assertNotLastGood,
  type DeploymentSpec,
  type Operation,
  type RestoreTarget,
} from '@msp/core';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { apiRouter, declaresDatabase, type ApiEnv } from '../api/app.js';
import { enqueueExplained } from '../api/busy.js';
import type { ArchiverState } from '../runtime-port.js';
import type { FeatureContext } from '../server.js';
import { backupHealth, type BackupDeps } from './backups.js';
import { assertNoIncrementalReads } from './catalog-operations.js';
import { cloneKeyOf, describe, planRestore, type RestoreInput } from './restore.js';
import { backupRoutes as backupRoutesOf } from './schemas.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$/;

type Api = OpenAPIHono<ApiEnv>;

/** The archiver of the deployment's running database, or null (not running, none, or it cannot tell). */
async function archiverOf(deps: BackupDeps, key: string): Promise<ArchiverState | null> {
  try {
    return await (await deps.targets.of(key)).databases.archiver(key);
  } catch {
    return null;
  }
}

export function backupRoutes(api: Api, deps: BackupDeps, ctx: FeatureContext): void {
  const { backups } = deps;
  const r = backupRoutesOf;
  const routes = apiRouter();
  routes.openapi(r.list, async (c) => {
    const key = c.req.valid('query').deployment;
    await deps.store.requireDeployment(key);
    const [rows, health, archiver, drills] = await Promise.all([
      backups.list(key),
      backupHealth(deps, key),
      archiverOf(deps, key),
      backups.listDrills(key, 5),
    ]);
    const { segments, ...rest } = health;
    void segments;
    return c.json({ deployment: key, ...rest, archiver, drills, backups: rows }, 200);
  });
  routes.openapi(r.create, async (c) => {
    const body = c.req.valid('json');
    const row = await deps.store.requireDeployment(body.deployment);
    refuseWithoutData(row, 'back up');
    const kind = body.kind ?? 'on-demand';
    const op = await enqueueExplained(deps.store, ctx.engine, {
      kind: 'backup',
      deploymentKey: body.deployment,
      reason: body.reason ?? `${kind} backup`,
      createdBy: c.get('principal').name,
      input: { kind },
    });
    return c.json(op, 202);
  });
  for (const [route, kind, reason] of [
    [r.retention, 'retention', 'retention on request'],
    [r.drill, 'restore-drill', 'restore drill on request'],
  ] as const) {
    routes.openapi(route, async (c) => {
      const body = c.req.valid('json');
      const row = await deps.store.requireDeployment(body.deployment);
      // A drill restores the latest base backup and counts its rows: without a database there is none.
      if (kind === 'restore-drill' && !declaresDatabase(row.spec)) {
        throw new PreconditionFailedError(
          `${row.key} declares no database (no resources.postgreSQL in its environment): there is nothing to drill.`,
        );
      }
      const op = await enqueueExplained(deps.store, ctx.engine, {
        kind,
        deploymentKey: body.deployment,
        reason,
        createdBy: c.get('principal').name,
      });
      return c.json(op, 202);
    });
  }
  routes.openapi(r.get, async (c) => {
    const { id } = c.req.valid('param');
    const b = await backups.get(id);
    if (!b) throw new NotFoundError(`No backup ${id}; see \`msp backup list\`.`);
    return c.json(b, 200);
  });
  const onBackup = async (
    kind: 'verify-backup' | 'delete-backup',
    id: string,
    by: string,
  ): Promise<Operation> => {
    const b = (await backups.get(id)) ?? (await backups.get(`${id}-base`));
    if (!b) throw new NotFoundError(`No backup ${id}; see \`msp backup list\`.`);
    if (kind === 'delete-backup') {
      const all = await backups.list(b.deploymentKey);
      assertNotLastGood(b, all);
      assertNoIncrementalReads(b, all);
    }
    return enqueueExplained(deps.store, ctx.engine, {
      kind,
      deploymentKey: b.deploymentKey,
      reason: `${kind === 'verify-backup' ? 'verify' : 'delete'} backup ${b.id}`,
      createdBy: by,
      input: { backupId: b.id },
    });
  };
  for (const [route, kind] of [
    [r.verify, 'verify-backup'],
    [r.delete, 'delete-backup'],
    [r.remove, 'delete-backup'],
  ] as const) {
    routes.openapi(route, async (c) =>
      c.json(await onBackup(kind, c.req.valid('param').id, c.get('principal').name), 202),
    );
  }

  routes.openapi(r.restore, async (c) => {
    const body = c.req.valid('json');
    const key = body.deployment;
    const row = await deps.store.requireDeployment(key);
    refuseWithoutData(row, 'restore');
    let target: RestoreTarget;
    if (body.to !== undefined) {
      if (!RFC3339.test(body.to) || Number.isNaN(Date.parse(body.to))) {
        throw new InputError(`"${body.to}" is not an RFC 3339 time; use the form 2026-01-01T12:00:00Z.`);
      }
      target = { kind: 'time', time: new Date(body.to).toISOString() };
    } else if (body.backup !== undefined) target = { kind: 'backup', backupId: body.backup };
    else target = { kind: 'latest' };
    const input: RestoreInput = {
      target,
      type: body.type as RestoreInput['type'],
      ...(body.into ? { into: body.into } : {}),
      ...(body.inPlace ? { inPlace: true } : {}),
      ...(body.delta ? { delta: true } : {}),
    };
    if (input.into) {
      const cloneKey = cloneKeyOf(key, row.spec as DeploymentSpec, input.into);
      const existing = await deps.store.getDeployment(cloneKey);
      if (existing)
        throw new ConflictError(`Deployment ${cloneKey} already exists; choose another name for --into.`);
    }
    // Refuse a target outside the recoverable window now (exit 2), not in the middle of the operation.
    const plan = await planRestore(deps, key, input);
    const op = await enqueueExplained(deps.store, ctx.engine, {
      kind: 'restore',
      deploymentKey: key,
      reason:
        body.reason ??
        `restore ${describe(target)} ${input.into ? `into ${input.into}` : 'in place'} (${input.type})`,
      createdBy: c.get('principal').name,
      input: input as unknown as Record<string, unknown>,
    });
    return c.json({ ...op, plan }, 202);
  });
  api.route('/', routes);
}

/** Backing up or restoring a deployment with neither a database nor volumes: say so (412, exit 2). */
function refuseWithoutData(row: { key: string; spec: unknown }, what: string): void {
  const spec = row.spec as DeploymentSpec;
  if (!declaresDatabase(spec) && (spec.environment.resources?.volumes ?? []).length === 0) {
    throw new PreconditionFailedError(
      `${row.key} declares no database and no volumes (no resources.postgreSQL or resources.volumes in its environment): there is nothing to ${what}.`,
    );
  }
}
