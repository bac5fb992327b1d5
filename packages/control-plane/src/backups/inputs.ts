/**
 * What each kind of backups operation carries in its stored input (and a restore in its result), as zod
 * schemas: handlers read them through `inputOf`, so a stored input that does not match fails the step with
 * an error naming the field instead of running with a wrong value.
 */
import { z } from 'zod';
import { BACKUP_KINDS, type BackupKind } from '@msp/core';

export const backupInput = z.looseObject({
  kind: z.enum(BACKUP_KINDS as [BackupKind, ...BackupKind[]]).optional(),
});

/** verify-backup and delete-backup. */
export const backupIdInput = z.looseObject({ backupId: z.string().min(1) });

export const restoreTargetSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('time'), time: z.string().min(1) }),
  z.object({ kind: z.literal('backup'), backupId: z.string().min(1) }),
  z.object({ kind: z.literal('latest') }),
]);

export const restoreInput = z.looseObject({
  target: restoreTargetSchema,
  type: z.custom<'full' | 'database' | `volume:${string}`>(
    (v) => typeof v === 'string' && /^(full|database|volume:.+)$/.test(v),
    'full, database or volume:<name>',
  ),
  into: z.string().min(1).optional(),
  inPlace: z.boolean().optional(),
  delta: z.boolean().optional(),
});

/** What the restore's first step decided, kept in its result for the later steps. */
export const restorePlanResult = z.looseObject({
  plan: z.object({
    baseBackupId: z.string().nullable(),
    snapshots: z.record(z.string(), z.string()),
  }),
});
