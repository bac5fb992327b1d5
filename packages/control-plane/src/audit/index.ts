/**
 * The audit feature: every API call that changes something (middleware), every operation step outcome
 * (engine hook), every change the reconciler saw in the platform repo, plus what the access module
 * records (sign-ins, grants, approvals), in one hash-chained, append-only log (log.ts); `GET /audit`,
 * `/audit/verify` and `/audit/evidence` (evidence.ts). See docs/access.md.
 */
import type { MiddlewareHandler } from 'hono';
import { getPath } from 'hono/utils/url';
import { InputError } from '@msp/core';
import type { ApiEnv } from '../api/app.js';
import type { FeatureContext, FeatureModule } from '../server.js';
import { collectEvidence, evidenceFiles } from './evidence.js';
import { AUDIT_MIGRATIONS, createAuditLog, type AuditLog } from './log.js';
import { auditRoutes as r } from './schemas.js';

export { createAuditLog, canonicalJson, hashOf, GENESIS, AUDIT_MIGRATIONS } from './log.js';
export type { AuditLog, AuditRecord, AuditEntry, VerifyResult } from './log.js';
export { auditRoutes } from './schemas.js';

function timeOf(text: string, what: string): Date {
  const at = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
  if (!/^\d{4}-/.test(text) || Number.isNaN(at)) {
    throw new InputError(`${what} "${text}" is not a date: give 2026-12-01 or an RFC 3339 time.`);
  }
  return new Date(at);
}

/** Records every /api/v1 call that is not a read, with its outcome (refused ones too). */
function auditMiddleware(log: AuditLog, report: (line: string) => void): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return next();
    try {
      await next();
    } finally {
      const path = getPath(c.req.raw);
      await log
        .append({
          actor: c.get('principal').name,
          action: `api.${c.req.method.toLowerCase()}`,
          target: path,
          data: {
            status: c.error ? undefined : c.res.status,
            error: c.error ? String(c.error.message) : undefined,
          },
        })
        .catch((e: unknown) => report(`audit: recording ${c.req.method} ${path}: ${String(e)}`));
    }
  };
}

export function createAuditModule(): FeatureModule {
  return {
    name: 'audit',
    migrations: AUDIT_MIGRATIONS,
    setup(ctx: FeatureContext) {
      const log = createAuditLog(ctx.db);
      ctx.engine.addHooks({
        afterStep: async (op, name) => {
          const step = op.steps.find((s) => s.name === name);
          await log.append({
            actor: op.createdBy,
            action: `operation.step.${step?.status ?? 'unknown'}`,
            target: op.deploymentKey,
            data: { operation: op.id, kind: op.kind, step: name, detail: step?.detail },
          });
        },
      });
      return Promise.resolve({
        apiHooks: { middleware: [auditMiddleware(log, ctx.log)] },
        onReconciled: async (result, by) => {
          for (const a of result.actions) {
            await log.append({
              actor: by,
              action: 'config.change',
              target: a.key,
              data: { kind: a.kind, reason: a.reason, operation: a.operationId, error: a.error },
            });
          }
        },
        routes: [
          (api) => {
            api.openapi(r.list, async (c) => {
              const q = c.req.valid('query');
              const records = await log.list({
                ...(q.since ? { since: timeOf(q.since, '--since') } : {}),
                ...(q.actor ? { actor: q.actor } : {}),
                ...(q.action ? { action: q.action } : {}),
                limit: q.limit,
              });
              return c.json({ records }, 200);
            });
            api.openapi(r.verify, async (c) => c.json(await log.verify(), 200));
            api.openapi(r.evidence, async (c) => {
              const q = c.req.valid('query');
              const from = timeOf(q.from, '--from');
              const to = timeOf(q.to, '--to');
              if (to <= from) throw new InputError(`--to ${q.to} is not after --from ${q.from}.`);
              const evidence = await collectEvidence(ctx.db, log, from, to);
              return c.json({ head: evidence.chain.head, files: evidenceFiles(evidence) }, 200);
            });
          },
        ],
      });
    },
  };
}
