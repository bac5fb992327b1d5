/** The /audit routes, defined once (validation, OpenAPI, the CLI's types). */
import { z } from 'zod';
import { jsonResponse, route, text, typed } from '../api/schemas.js';
import type { EvidenceFile } from './evidence.js';
import type { AuditRecord, VerifyResult } from './log.js';

const time = text().max(40).meta({ description: 'An RFC 3339 time or a date (2026-12-01)' });

export const auditRoutes = {
  list: route({
    method: 'get',
    path: '/audit',
    summary: 'Audit records, newest first',
    request: {
      query: z.object({
        since: time.optional(),
        actor: text().max(200).optional(),
        action: text().max(100).optional(),
        limit: z.coerce.number().int().min(1).max(10_000).default(100),
      }),
    },
    responses: { 200: jsonResponse('Records', typed<{ records: AuditRecord[] }>('Audit records')) },
  }),
  verify: route({
    method: 'get',
    path: '/audit/verify',
    summary: 'Check the whole hash chain; names the first record whose chain breaks',
    responses: { 200: jsonResponse('The result', typed<VerifyResult>('Chain verification')) },
  }),
  evidence: route({
    method: 'get',
    path: '/audit/evidence',
    summary: 'SOC 2 evidence of a period (changes, grants, backups and drills) as JSON and Markdown files',
    request: { query: z.object({ from: time, to: time }) },
    responses: {
      200: jsonResponse('The files', typed<{ head: string; files: EvidenceFile[] }>('Evidence files')),
    },
  }),
};
