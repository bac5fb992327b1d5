/**
 * Backup health as alert policies (issue 11): the last good base backup older than 26 h, the last
 * archived WAL older than 2 × `archive_timeout` while the database takes writes, and the streaming WAL
 * receiver's slot holding more than 512 MiB for 5 minutes (issue 12). They sit beside the
 * standard catalog (which mirrors the original platform's 14 policies) and have the same shape.
 */
import type { ServiceEnvironment, ServiceSpec } from '@msp/spec';
import type { AlertPolicy } from './policies-for.js';

/** The base backup runs daily; 2 h of slack for a slow one. */
export const BASE_BACKUP_MAX_AGE_SECONDS = 26 * 3600;
/**
 * WAL the streaming receiver's slot holds back: half of the bound (max_slot_wal_keep_size, 1 GiB by
 * default) past which PostgreSQL drops the slot and streaming stops until the receiver starts over.
 */
export const WAL_SLOT_LAG_WARNING_BYTES = 512 * 1024 * 1024;

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
    {
      ...common,
      id: 'backup-wal-stream-lag',
      title: 'Backup - WAL Stream Lag',
      name: 'Backup - WAL Stream Lag',
      localName: 'Backup - WAL Stream Lag',
      description:
        'The WAL receiver has fallen more than 512 MiB behind the database for 5 minutes: what a crash can lose grows past the last streamed record, and at 1 GiB PostgreSQL drops the replication slot (archive_command then remains the only path). Check the control plane log for the receiver; `msp backup list` shows the archiver.',
      signal: "WAL held by the streaming receiver's replication slot",
      unit: 'bytes',
      durationSeconds: 300,
      windowSeconds: 300,
      threshold: WAL_SLOT_LAG_WARNING_BYTES,
    },
  ];
}
