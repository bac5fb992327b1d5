/** Request bodies of the /backups and /restores API (also in the OpenAPI document). */
import { z } from 'zod';
import { BACKUP_KINDS, type BackupKind } from '@msp/core';

export const backupBody = z.strictObject({
  deployment: z.string().min(1),
  reason: z.string().max(500).optional(),
  kind: z.enum(BACKUP_KINDS as [BackupKind, ...BackupKind[]]).optional(),
});
export const restoreBody = z
  .strictObject({
    deployment: z.string().min(1),
    to: z.string().optional(),
    backup: z.string().optional(),
    latest: z.boolean().optional(),
    type: z
      .string()
      .regex(/^(full|database|volume:[a-z0-9][a-z0-9_-]*)$/, 'full, database or volume:<name>')
      .default('full'),
    into: z.string().optional(),
    inPlace: z.boolean().optional(),
    reason: z.string().max(500).optional(),
  })
  .refine(
    (b) => [b.to !== undefined, b.backup !== undefined, b.latest === true].filter(Boolean).length === 1,
    {
      message: 'give exactly one of to (an RFC 3339 time), backup (an id) or latest',
    },
  );
export const deploymentBody = z.strictObject({ deployment: z.string().min(1) });
