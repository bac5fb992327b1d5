/**
 * Backup health as alert policies (issue 11): the last good base backup older than 26 h, and the last
 * archived WAL older than 2 × `archive_timeout` while the database takes writes. They sit beside the
 * standard catalog (which mirrors the original platform's 14 policies) and have the same shape.
 */
import type { ServiceEnvironment, ServiceSpec } from '@msp/spec';
import type { AlertPolicy } from './policies-for.js';

/** The base backup runs daily; 2 h of slack for a slow one. */
export const BASE_BACKUP_MAX_AGE_SECONDS = 26 * 3600;

export function backupHealthPolicies(
  service: ServiceSpec,
  env: ServiceEnvironment,
  options: { archiveTimeoutSeconds: number; channels: readonly string[] },
): AlertPolicy[] {
  if (env.resources.postgreSQL === undefined) return [];
  const common = {
    appliesTo: 'database',
    source: 'standard',
    unit: 'seconds',
    aggregation: 'max',
    comparison: 'above',
    severity: 'WARNING',
    durationSeconds: 0,
    windowSeconds: 60,
    service: service.service.id,
    environment: env.id,
    notify: { channels: options.channels, page: false },
  } as const;
  return [
    {
      ...common,
      id: 'backup-base-age',
      title: 'Backup - Base Backup Age',
      name: 'Backup - Base Backup Age',
      localName: 'Backup - Base Backup Age',
      description:
        'The last good base backup is older than 26 hours: the daily base backup failed or did not run. See `msp backup list`.',
      signal: 'age of the last good base backup',
      threshold: BASE_BACKUP_MAX_AGE_SECONDS,
    },
    {
      ...common,
      id: 'backup-wal-age',
      title: 'Backup - WAL Archive Age',
      name: 'Backup - WAL Archive Age',
      localName: 'Backup - WAL Archive Age',
      description:
        'The database takes writes but its WAL has not been archived for more than 2 × archive_timeout: point-in-time recovery is falling behind. See `msp backup list` (archiver).',
      signal: 'age of the last archived WAL segment while segments wait for the archiver',
      threshold: 2 * options.archiveTimeoutSeconds,
    },
  ];
}
