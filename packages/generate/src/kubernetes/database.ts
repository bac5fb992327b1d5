/**
 * The deployment's PostgreSQL on Kubernetes: a CloudNativePG `Cluster` with the workload's and the
 * read-only operator's roles, WAL archiving through the Barman Cloud plugin's `ObjectStore` (7-day recovery
 * window), a daily `ScheduledBackup`, the custom metrics queries the alert catalog needs, and a
 * NetworkPolicy so that only the deployment (and the operator) reach it. A restore is a new `Cluster`
 * bootstrapped by `recovery` up to a `targetTime`. Velero `Schedule` for the volumes (kept 90 days).
 */
import { CNPG_CUSTOM_QUERIES } from '@msp/core';
import { CannotExpress } from '../errors.js';
import type { DeploymentModel } from '../model.js';
import { yamlOf } from '../output.js';
import { dbName, labelsOf, meta, selectorOf, type Manifest } from './workload.js';

/** The PostgreSQL major version clusters run: the one the local runtime runs too. */
export const POSTGRES_MAJOR = 17;
/** PostgreSQL majors with a CloudNativePG operand image. */
export const CNPG_POSTGRES_MAJORS = [13, 14, 15, 16, 17, 18] as const;
export const BARMAN_PLUGIN = 'barman-cloud.cloudnative-pg.io';
export const RECOVERY_WINDOW_DAYS = 7;
export const VOLUME_BACKUP_RETENTION_DAYS = 90;

export interface KubernetesOptions {
  /** Where WAL and base backups go: `<objectStore>/<namespace>`. Default `s3://msp-backups`. */
  readonly objectStore?: string;
  /** Secret (in each deployment namespace) with ACCESS_KEY_ID and ACCESS_SECRET_KEY for the object store. */
  readonly objectStoreSecret?: string;
  /** Namespace the CloudNativePG operator runs in (its status checks reach the database). */
  readonly operatorNamespace?: string;
}

const storeName = (m: DeploymentModel) => `${dbName(m)}-store`;

/** A five-field cron (msp.yaml) as CloudNativePG's six-field one (seconds first). */
export function cnpgSchedule(cron: string): string {
  return `0 ${cron.trim().split(/\s+/).join(' ')}`;
}

function checkPostgres(m: DeploymentModel, major: number): void {
  if (!(CNPG_POSTGRES_MAJORS as readonly number[]).includes(major))
    throw new CannotExpress(
      'kubernetes',
      m.serviceFile,
      `environments[${m.env}].resources.postgreSQL.version`,
      `CloudNativePG has no PostgreSQL ${major} image; use one of ${CNPG_POSTGRES_MAJORS.join(', ')}`,
    );
}

export function database(m: DeploymentModel, options: KubernetesOptions = {}): Manifest[] {
  const pg = m.deployment.environment.resources.postgreSQL;
  if (!pg) return [];
  const major = POSTGRES_MAJOR;
  checkPostgres(m, major);
  const db = dbName(m);
  const [first, ...others] = pg.databases;
  const operatorRole = `${m.workload.replace(/-/g, '_')}_operator`;
  const cluster: Manifest = {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    metadata: meta(m, db),
    spec: {
      description: `PostgreSQL of ${m.deployment.key}`,
      // synchronousWal (locally: commits wait for MSP's WAL receiver) becomes a synchronous standby of
      // the cluster's own: commits wait until a second instance has them, so at least two instances.
      instances: pg.highAvailability ? 3 : pg.synchronousWal ? 2 : 1,
      imageName: `ghcr.io/cloudnative-pg/postgresql:${major}`,
      enableSuperuserAccess: false,
      postgresql: {
        parameters: { max_connections: String(pg.maxConnections) },
        ...(pg.synchronousWal
          ? { synchronous: { method: 'any', number: 1, dataDurability: 'required' } }
          : {}),
      },
      resources: {
        requests: { cpu: String(pg.cpu), memory: `${pg.memoryGB}Gi` },
        limits: { cpu: String(pg.cpu), memory: `${pg.memoryGB}Gi` },
      },
      storage: { size: '10Gi' },
      bootstrap: {
        initdb: {
          database: first,
          owner: m.workload.replace(/-/g, '_'),
          ...(others.length > 0
            ? {
                postInitSQL: others.map(
                  (name) => `CREATE DATABASE ${name} OWNER ${m.workload.replace(/-/g, '_')}`,
                ),
              }
            : {}),
        },
      },
      managed: {
        roles: [
          {
            name: operatorRole,
            comment: 'read-only access for operators (msp pg connect)',
            ensure: 'present',
            login: true,
            inRoles: ['pg_read_all_data'],
            passwordSecret: { name: `${db}-operator` },
          },
        ],
      },
      plugins: [{ name: BARMAN_PLUGIN, isWALArchiver: true, parameters: { barmanObjectName: storeName(m) } }],
      monitoring: {
        enablePodMonitor: true,
        customQueriesConfigMap: [{ name: `${db}-monitoring`, key: 'queries.yaml' }],
      },
    },
  };
  const store: Manifest = {
    apiVersion: 'barmancloud.cnpg.io/v1',
    kind: 'ObjectStore',
    metadata: meta(m, storeName(m)),
    spec: {
      retentionPolicy: `${RECOVERY_WINDOW_DAYS}d`,
      configuration: {
        destinationPath: `${(options.objectStore ?? 's3://msp-backups').replace(/\/+$/, '')}/${m.namespace}`,
        s3Credentials: {
          accessKeyId: { name: options.objectStoreSecret ?? 'msp-backup-store', key: 'ACCESS_KEY_ID' },
          secretAccessKey: {
            name: options.objectStoreSecret ?? 'msp-backup-store',
            key: 'ACCESS_SECRET_KEY',
          },
        },
        wal: { compression: 'gzip' },
        data: { compression: 'gzip' },
      },
    },
  };
  const scheduled: Manifest = {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'ScheduledBackup',
    metadata: meta(m, `${db}-daily`),
    spec: {
      schedule: cnpgSchedule(m.deployment.envConfig.backups.baseBackupCron),
      backupOwnerReference: 'self',
      cluster: { name: db },
      method: 'plugin',
      pluginConfiguration: { name: BARMAN_PLUGIN },
    },
  };
  const queries: Manifest = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(m, `${db}-monitoring`),
    data: { 'queries.yaml': yamlOf(CNPG_CUSTOM_QUERIES) },
  };
  const policy: Manifest = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(m, `${db}-ingress`),
    spec: {
      podSelector: { matchLabels: { 'cnpg.io/cluster': db } },
      policyTypes: ['Ingress'],
      ingress: [
        // The workload, on the PostgreSQL port.
        { from: [{ podSelector: { matchLabels: selectorOf(m) } }], ports: [{ port: 5432, protocol: 'TCP' }] },
        // The cluster's own instances (replication, the instance manager).
        { from: [{ podSelector: { matchLabels: { 'cnpg.io/cluster': db } } }] },
        // The operator: status checks and the instance manager's API.
        {
          from: [
            {
              namespaceSelector: {
                matchLabels: { 'kubernetes.io/metadata.name': options.operatorNamespace ?? 'cnpg-system' },
              },
            },
          ],
          ports: [
            { port: 8000, protocol: 'TCP' },
            { port: 5432, protocol: 'TCP' },
          ],
        },
        // Prometheus scrapes the exporter.
        { ports: [{ port: 9187, protocol: 'TCP' }] },
      ],
    },
  };
  return [cluster, store, scheduled, queries, policy];
}

/** The Velero schedule of the deployment's volumes: daily, kept 90 days. */
export function volumeBackups(m: DeploymentModel): Manifest[] {
  const volumes = m.deployment.environment.resources.volumes;
  if (volumes.length === 0) return [];
  return [
    {
      apiVersion: 'velero.io/v1',
      kind: 'Schedule',
      metadata: { name: `${m.namespace}-volumes`, namespace: 'velero', labels: labelsOf(m) },
      spec: {
        schedule: m.deployment.envConfig.backups.baseBackupCron,
        template: {
          includedNamespaces: [m.namespace],
          includedResources: ['persistentvolumeclaims', 'persistentvolumes'],
          snapshotVolumes: true,
          ttl: `${VOLUME_BACKUP_RETENTION_DAYS * 24}h0m0s`,
        },
      },
    },
  ];
}

/**
 * A restore: a new Cluster bootstrapped by `recovery` from the deployment's object store up to
 * `targetTime` (RFC 3339). Its name carries the time so that it sits beside the original until switched.
 */
export function recoveryCluster(
  m: DeploymentModel,
  targetTime: string,
  options: KubernetesOptions = {},
): Manifest {
  const time = new Date(targetTime);
  if (Number.isNaN(time.getTime()))
    throw new CannotExpress(
      'kubernetes',
      m.file,
      '--to',
      `\`${targetTime}\` is not a time; give one such as 2026-12-01T10:00:00Z`,
    );
  const [original] = database(m, options);
  if (!original)
    throw new CannotExpress(
      'kubernetes',
      m.serviceFile,
      `environments[${m.env}].resources.postgreSQL`,
      'the deployment has no PostgreSQL to restore',
    );
  const stamp = time
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'z')
    .replace('T', 't');
  const spec = { ...(original.spec as Record<string, unknown>) };
  const db = dbName(m);
  spec.description = `${m.deployment.key} restored to ${time.toISOString()}`;
  spec.bootstrap = {
    recovery: { source: 'origin', recoveryTarget: { targetTime: time.toISOString() } },
  };
  spec.externalClusters = [
    {
      name: 'origin',
      plugin: { name: BARMAN_PLUGIN, parameters: { barmanObjectName: storeName(m), serverName: db } },
    },
  ];
  // The restored cluster archives to a server name of its own, never over the original's WAL.
  spec.plugins = [
    {
      name: BARMAN_PLUGIN,
      isWALArchiver: true,
      parameters: { barmanObjectName: storeName(m), serverName: `${db}-${stamp}` },
    },
  ];
  return { ...original, metadata: meta(m, `${db}-${stamp}`), spec };
}
