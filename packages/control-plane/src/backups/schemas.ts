/** The /backups and /restores routes: requests validated and documented from these definitions. */
import { z } from 'zod';
import { BACKUP_KINDS, type BackupKind, type Operation } from '@msp/core';
import {
  deploymentKey,
  deploymentQuery,
  idParam,
  jsonBody,
  jsonResponse,
  route,
  text,
  typed,
} from '../api/schemas.js';
import type { BackupRow, DrillRow } from './store.js';

export const backupBody = z.strictObject({
  deployment: deploymentKey,
  reason: text().max(500).optional(),
  kind: z.enum(BACKUP_KINDS as [BackupKind, ...BackupKind[]]).optional(),
});
export const restoreBody = z
  .strictObject({
    deployment: deploymentKey,
    to: text().max(100).optional(),
    backup: text().max(200).optional(),
    latest: z.boolean().optional(),
    type: z
      .string()
      .regex(/^(full|database|volume:[a-z0-9][a-z0-9_-]*)$/, 'full, database or volume:<name>')
      .default('full'),
    into: text().max(100).optional(),
    inPlace: z.boolean().optional(),
    /** With inPlace: rewrite only the files (chunks) that differ from the backup. */
    delta: z.boolean().optional(),
    reason: text().max(500).optional(),
  })
  .refine(
    (b) => [b.to !== undefined, b.backup !== undefined, b.latest === true].filter(Boolean).length === 1,
    {
      message: 'give exactly one of to (an RFC 3339 time), backup (an id) or latest',
    },
  );
export const deploymentBody = z.strictObject({ deployment: deploymentKey });

/** What GET /backups answers. */
export interface BackupListView {
  deployment: string;
  window: { from: string; to: string } | null;
  lastGoodBaseBackup: { id: string; finishedAt: string; ageSeconds: number } | null;
  lastArchivedWal: { name: string; archivedAt: string; ageSeconds: number } | null;
  archiver: {
    failedCount: number;
    lastFailedWal: string | null;
    lastFailedTime: string | null;
    pending: number;
  } | null;
  drills: DrillRow[];
  backups: BackupRow[];
}

const operation = typed<Operation>('The queued operation');
const onBackup = <const M extends 'post' | 'delete', const P extends string>(
  method: M,
  path: P,
  summary: string,
) =>
  route({
    method,
    path,
    summary,
    request: { params: idParam },
    responses: { 202: jsonResponse('The queued operation', operation) },
  });

export const backupRoutes = {
  list: route({
    method: 'get',
    path: '/backups',
    summary:
      'Backups of a deployment with the recoverable window, ages of the last good base backup and last archived WAL, archiver status, drills',
    request: { query: deploymentQuery },
    responses: { 200: jsonResponse('Backups', typed<BackupListView>('Backups of a deployment')) },
  }),
  create: route({
    method: 'post',
    path: '/backups',
    summary: 'Take a backup (base backup + volume snapshots)',
    request: { body: jsonBody(backupBody) },
    responses: { 202: jsonResponse('The queued operation', operation) },
  }),
  retention: route({
    method: 'post',
    path: '/backups/retention',
    summary: 'Run retention now',
    request: { body: jsonBody(deploymentBody) },
    responses: { 202: jsonResponse('The queued operation', operation) },
  }),
  drill: route({
    method: 'post',
    path: '/backups/drills',
    summary: 'Run a restore drill now',
    request: { body: jsonBody(deploymentBody) },
    responses: { 202: jsonResponse('The queued operation', operation) },
  }),
  get: route({
    method: 'get',
    path: '/backups/{id}',
    summary: 'One backup with its verification',
    request: { params: idParam },
    responses: { 200: jsonResponse('The backup', typed<BackupRow>('A backup')) },
  }),
  verify: onBackup('post', '/backups/{id}/verify', 'Verify every checksum of a backup'),
  delete: onBackup('post', '/backups/{id}/delete', 'Delete a backup (never the last good one)'),
  remove: onBackup('delete', '/backups/{id}', 'Delete a backup (never the last good one)'),
  restore: route({
    method: 'post',
    path: '/restores',
    summary: 'Restore to a time, a backup or the latest state, into a clone or in place',
    request: { body: jsonBody(restoreBody) },
    responses: {
      202: jsonResponse(
        'The queued operation and its plan',
        typed<Operation & { plan: { baseBackupId: string | null; snapshots: Record<string, string> } }>(
          'The restore operation and its plan',
        ),
      ),
    },
  }),
};
