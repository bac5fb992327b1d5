/** The /backups and /restores API of the backups feature. */
import {
  ConflictError,
  InputError,
  NotFoundError,
  PreconditionFailedError,
  isGood,
  type DeploymentSpec,
  type RestoreTarget,
} from '@msp/core';
import type { Context, Hono } from 'hono';
import { parseBody, type ApiEnv } from '../api/app.js';
import type { ArchiverState } from '../runtime-port.js';
import type { FeatureContext } from '../server.js';
import { backupHealth, type BackupDeps } from './backups.js';
import { cloneKeyOf, describe, planRestore, type RestoreInput } from './restore.js';
import { backupBody, deploymentBody, restoreBody } from './schemas.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$/;

type Api = Hono<ApiEnv>;

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
  api.get('/backups', async (c) => {
    const key = c.req.query('deployment');
    if (!key) throw new InputError('Give the deployment: GET /backups?deployment=<key>.');
    await deps.store.requireDeployment(key);
    const [rows, health, archiver, drills] = await Promise.all([
      backups.list(key),
      backupHealth(deps, key),
      archiverOf(deps, key),
      backups.listDrills(key, 5),
    ]);
    const { segments, ...rest } = health;
    void segments;
    return c.json({ deployment: key, ...rest, archiver, drills, backups: rows });
  });
  api.post('/backups', async (c) => {
    const body = await parseBody(c, backupBody);
    await deps.store.requireDeployment(body.deployment);
    const kind = body.kind ?? 'on-demand';
    const op = await ctx.engine.enqueue({
      kind: 'backup',
      deploymentKey: body.deployment,
      reason: body.reason ?? `${kind} backup`,
      createdBy: c.get('principal').name,
      input: { kind },
    });
    return c.json(op, 202);
  });
  for (const [path, kind, reason] of [
    ['/backups/retention', 'retention', 'retention on request'],
    ['/backups/drills', 'restore-drill', 'restore drill on request'],
  ] as const) {
    api.post(path, async (c) => {
      const body = await parseBody(c, deploymentBody);
      await deps.store.requireDeployment(body.deployment);
      const op = await ctx.engine.enqueue({
        kind,
        deploymentKey: body.deployment,
        reason,
        createdBy: c.get('principal').name,
      });
      return c.json(op, 202);
    });
  }
  api.get('/backups/:id', async (c) => {
    const b = await backups.get(c.req.param('id'));
    if (!b) throw new NotFoundError(`No backup ${c.req.param('id')}; see \`msp backup list\`.`);
    return c.json(b);
  });
  const onBackup = (kind: 'verify-backup' | 'delete-backup') => async (c: Context<ApiEnv>) => {
    const id = c.req.param('id') ?? '';
    const b = (await backups.get(id)) ?? (await backups.get(`${id}-base`));
    if (!b) throw new NotFoundError(`No backup ${id}; see \`msp backup list\`.`);
    if (kind === 'delete-backup') {
      const rows = await backups.list(b.deploymentKey);
      if (
        isGood(b) &&
        rows.filter((r) => r.type === b.type && r.volume === b.volume && isGood(r)).length === 1
      ) {
        throw new PreconditionFailedError(
          `Backup ${b.id} is the last good ${b.type === 'base' ? 'base backup' : `snapshot of volume ${b.volume ?? ''}`} of ${b.deploymentKey}: it is never deleted. Take a newer one first.`,
        );
      }
    }
    const op = await ctx.engine.enqueue({
      kind,
      deploymentKey: b.deploymentKey,
      reason: `${kind === 'verify-backup' ? 'verify' : 'delete'} backup ${b.id}`,
      createdBy: c.get('principal').name,
      input: { backupId: b.id },
    });
    return c.json(op, 202);
  };
  api.post('/backups/:id/verify', onBackup('verify-backup'));
  api.post('/backups/:id/delete', onBackup('delete-backup'));
  api.delete('/backups/:id', onBackup('delete-backup'));

  api.post('/restores', async (c) => {
    const body = await parseBody(c, restoreBody);
    const key = body.deployment;
    const row = await deps.store.requireDeployment(key);
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
    };
    if (input.into) {
      const cloneKey = cloneKeyOf(key, row.spec as DeploymentSpec, input.into);
      const existing = await deps.store.getDeployment(cloneKey);
      if (existing)
        throw new ConflictError(`Deployment ${cloneKey} already exists; choose another name for --into.`);
    }
    // Refuse a target outside the recoverable window now (exit 2), not in the middle of the operation.
    const plan = await planRestore(deps, key, input);
    const op = await ctx.engine.enqueue({
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
}
