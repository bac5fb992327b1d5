/**
 * Google Cloud: Terraform JSON (`*.tf.json`, no CDKTF) per deployment and stack, in the stacks the
 * original platform used: project, iam, cloudrun (Cloud Run v2 and Cloud SQL), monitoring (alert policies
 * from the catalog, uptime check), and per service the rollout stack (Cloud Deploy pipeline and targets),
 * in the folder of its last stage. Secrets are Terraform variables or Secret Manager references.
 */
import type { PlatformRepo } from '@msp/spec';
import { CannotExpress } from '../errors.js';
import { envName, type DeploymentModel } from '../model.js';
import { toJson } from '../output.js';
import { policiesOf } from '../kubernetes/monitoring.js';
import { alertPolicy, projectOf, runName, sqlInstanceName, uptimeCheck } from './monitoring.js';
import { rolloutStack, workspacesStack } from './pipeline.js';

export interface GcpOptions {
  /** Default `us-central1`. */
  readonly region?: string;
  /** Google provider version constraint. Default `~> 6.0`. */
  readonly providerVersion?: string;
}

/** The stacks of one deployment, in apply order; `rollout` only in the folder of a service's last stage. */
export const GCP_STACKS = ['project', 'iam', 'cloudrun', 'monitoring', 'rollout', 'workspaces'] as const;
export type GcpStack = (typeof GCP_STACKS)[number];
/** Cloud SQL for PostgreSQL versions the google provider accepts. */
export const CLOUD_SQL_POSTGRES_MAJORS = [13, 14, 15, 16, 17] as const;
export const CLOUD_SQL_POSTGRES_MAJOR = 17;

type Json = Record<string, unknown>;

function terraform(m: DeploymentModel, stack: string, options: GcpOptions, body: Json): Json {
  const project = projectOf(m);
  if (stack === 'workspaces')
    return {
      '//': `msp generate: ${m.deployment.key}, stack ${stack}`,
      terraform: { required_providers: { tfe: { source: 'hashicorp/tfe', version: '~> 0.60' } } },
      ...body,
    };
  return {
    '//': `msp generate: ${m.deployment.key}, stack ${stack}`,
    terraform: {
      required_providers: {
        google: { source: 'hashicorp/google', version: options.providerVersion ?? '~> 6.0' },
      },
      backend: { gcs: { bucket: 'msp-terraform-state', prefix: `${project}/${runName(m)}/${stack}` } },
    },
    provider: { google: [{ project, region: options.region ?? 'us-central1' }] },
    ...body,
  };
}

const saId = (m: DeploymentModel, role: 'workload' | 'operator') =>
  `${runName(m)}-${role === 'workload' ? 'wl' : 'op'}`.slice(0, 30);
const saEmail = (m: DeploymentModel, role: 'workload' | 'operator') =>
  `${saId(m, role)}@${projectOf(m)}.iam.gserviceaccount.com`;

function projectStack(m: DeploymentModel): Json {
  const e = m.deployment.environment;
  const apis = ['run', 'sqladmin', 'clouddeploy', 'monitoring', 'iam', 'secretmanager', 'logging'];
  return {
    variable: { billing_account: { type: 'string' }, folder_id: { type: 'string' } },
    resource: {
      google_project: {
        project: {
          name: projectOf(m),
          project_id: projectOf(m),
          folder_id: '${var.folder_id}',
          billing_account: '${var.billing_account}',
          deletion_policy: e.allowDestroys ? 'DELETE' : 'PREVENT',
          labels: { msp: 'true', service: m.workload, environment: m.env },
        },
      },
      google_project_service: Object.fromEntries(
        apis.map((api) => [
          api,
          {
            project: projectOf(m),
            service: `${api}.googleapis.com`,
            disable_on_destroy: false,
            depends_on: ['google_project.project'],
          },
        ]),
      ),
    },
  };
}

function iamStack(m: DeploymentModel): Json {
  const project = projectOf(m);
  const roles: Record<string, [string, 'workload' | 'operator']> = {
    workload_sql_client: ['roles/cloudsql.client', 'workload'],
    workload_sql_user: ['roles/cloudsql.instanceUser', 'workload'],
    workload_secrets: ['roles/secretmanager.secretAccessor', 'workload'],
    workload_metrics: ['roles/monitoring.metricWriter', 'workload'],
    operator_sql_viewer: ['roles/cloudsql.viewer', 'operator'],
    operator_sql_user: ['roles/cloudsql.instanceUser', 'operator'],
    operator_sql_client: ['roles/cloudsql.client', 'operator'],
  };
  return {
    resource: {
      google_service_account: {
        workload: { project, account_id: saId(m, 'workload'), display_name: `${m.deployment.key} workload` },
        operator: {
          project,
          account_id: saId(m, 'operator'),
          display_name: `${m.deployment.key} operators (read-only)`,
        },
      },
      google_project_iam_member: Object.fromEntries(
        Object.entries(roles).map(([key, [role, who]]) => [
          key,
          {
            project,
            role,
            member: `serviceAccount:${saEmail(m, who)}`,
            depends_on: [`google_service_account.${who}`],
          },
        ]),
      ),
    },
  };
}

function cloudRunStack(m: DeploymentModel, options: GcpOptions, release: string): Json {
  const d = m.deployment;
  const e = d.environment;
  const project = projectOf(m);
  const region = options.region ?? 'us-central1';
  if (m.image === undefined)
    throw new CannotExpress(
      'gcp',
      m.serviceFile,
      'build.image',
      'Cloud Run runs container images, and this service names none; add `build.image`',
    );
  if (d.service.service.kind === 'job')
    throw new CannotExpress(
      'gcp',
      m.serviceFile,
      'service.kind',
      'jobs (Cloud Run jobs) are not generated yet; run this job on the local or kubernetes target',
    );
  const buckets = e.resources.volumes.map((v) => ({
    volume: v.name,
    bucket: `${project}-${v.name}`,
  }));
  for (const b of buckets)
    if (b.bucket.length > 63)
      throw new CannotExpress(
        'gcp',
        m.serviceFile,
        `environments[${m.env}].resources.volumes`,
        `the bucket name ${b.bucket} is longer than 63 characters; shorten the volume name`,
      );
  if (e.resources.redis)
    throw new CannotExpress(
      'gcp',
      m.serviceFile,
      `environments[${m.env}].resources.redis`,
      'Memorystore is not generated yet',
    );
  const pg = e.resources.postgreSQL;
  const variable: Json = { diagnostics_secret: { type: 'string', sensitive: true } };
  const envs: Json[] = [];
  const plain: Record<string, string> = {
    MSP: 'true',
    ENVIRONMENT_ID: e.id,
    MSP_SERVICE: m.workload,
    MSP_DEPLOYMENT: d.key,
    ...(d.domain !== undefined ? { EXTERNAL_DNS_NAME: d.domain } : {}),
    ...(d.instance
      ? {
          MSP_INSTANCE_ID: d.instance.id,
          MSP_INSTANCE_CUSTOMER: d.instance.customer,
          MSP_INSTANCE_TYPE: d.instance.type,
        }
      : {}),
    ...e.env,
  };
  if (pg) {
    plain.PGHOST = `/cloudsql/${project}:${region}:${sqlInstanceName(m)}`;
    plain.PGPORT = '5432';
    // Cloud SQL IAM authentication: the user is the service account without its domain suffix.
    plain.PGUSER = saEmail(m, 'workload').replace(/\.gserviceaccount\.com$/, '');
    plain.PGDATABASE = pg.databases[0]!;
    for (const db of pg.databases) plain[`PGDATABASE_${envName(db)}`] = db;
  }
  for (const v of e.resources.volumes) plain[`VOLUME_${envName(v.name)}`] = `/data/${v.name}`;
  for (const [name, value] of Object.entries(plain).sort(([a], [b]) => (a < b ? -1 : 1)))
    envs.push({ name, value });
  envs.push({ name: 'DIAGNOSTICS_SECRET', value: '${var.diagnostics_secret}' });
  for (const [name, secret] of Object.entries(e.secretEnv).sort(([a], [b]) => (a < b ? -1 : 1)))
    envs.push({ name, value_source: { secret_key_ref: { secret, version: 'latest' } } });
  const h = e.healthProbes;
  const probe = (period: number) => ({
    http_get: {
      path: '/-/healthz',
      http_headers: [{ name: 'Authorization', value: 'Bearer ${var.diagnostics_secret}' }],
    },
    timeout_seconds: h?.timeout ?? 3,
    period_seconds: period,
    failure_threshold: 3,
  });
  const mounts: Json[] = [];
  const volumes: Json[] = [];
  if (pg) {
    mounts.push({ name: 'cloudsql', mount_path: '/cloudsql' });
    volumes.push({
      name: 'cloudsql',
      cloud_sql_instance: { instances: [`${project}:${region}:${sqlInstanceName(m)}`] },
    });
  }
  const key = (v: string) => v.replace(/-/g, '_');
  // A volume is a Cloud Storage bucket mounted with Cloud Storage FUSE.
  for (const b of buckets) {
    mounts.push({ name: `volume-${b.volume}`, mount_path: `/data/${b.volume}` });
    volumes.push({
      name: `volume-${b.volume}`,
      gcs: { bucket: `\${google_storage_bucket.${key(b.volume)}.name}`, read_only: false },
    });
  }
  const resource: Json = {
    google_cloud_run_v2_service: {
      service: {
        project,
        name: runName(m),
        location: region,
        ingress: 'INGRESS_TRAFFIC_ALL',
        deletion_protection: !e.allowDestroys,
        labels: { msp: 'true', environment: m.env },
        template: {
          service_account: saEmail(m, 'workload'),
          max_instance_request_concurrency: e.instances.scaling.maxRequestConcurrency,
          scaling: {
            min_instance_count: e.instances.scaling.minCount,
            max_instance_count: e.instances.scaling.maxCount,
          },
          containers: [
            {
              image: `${m.image}:${release}`,
              ports: { container_port: 8080, name: d.service.service.protocol === 'h2c' ? 'h2c' : 'http1' },
              env: envs,
              resources: {
                limits: { cpu: String(e.instances.resources.cpu), memory: e.instances.resources.memory },
              },
              ...(h?.healthzProbes
                ? { startup_probe: probe(h.startupInterval), liveness_probe: probe(h.livenessInterval) }
                : {}),
              ...(mounts.length > 0 ? { volume_mounts: mounts } : {}),
            },
          ],
          ...(volumes.length > 0 ? { volumes } : {}),
        },
      },
    },
  };
  if (buckets.length > 0) {
    resource.google_storage_bucket = Object.fromEntries(
      buckets.map((b) => [
        key(b.volume),
        {
          project,
          name: b.bucket,
          location: region.toUpperCase(),
          uniform_bucket_level_access: true,
          public_access_prevention: 'enforced',
          force_destroy: e.allowDestroys,
          // Overwritten and deleted files are kept 90 days, like volume backups on the other targets.
          versioning: { enabled: true },
          lifecycle_rule: [{ action: { type: 'Delete' }, condition: { days_since_noncurrent_time: 90 } }],
        },
      ]),
    );
    resource.google_storage_bucket_iam_member = Object.fromEntries(
      buckets.map((b) => [
        key(b.volume),
        {
          bucket: `\${google_storage_bucket.${key(b.volume)}.name}`,
          role: 'roles/storage.objectUser',
          member: `serviceAccount:${saEmail(m, 'workload')}`,
        },
      ]),
    );
  }
  if (d.domain !== undefined) {
    resource.google_cloud_run_domain_mapping = {
      domain: {
        project,
        location: region,
        name: d.domain,
        metadata: { namespace: project },
        spec: { route_name: '${google_cloud_run_v2_service.service.name}' },
      },
    };
  }
  if (pg) {
    const major = CLOUD_SQL_POSTGRES_MAJOR;
    if (pg.memoryGB < pg.cpu * 0.9 || pg.memoryGB > pg.cpu * 6.5)
      throw new CannotExpress(
        'gcp',
        m.serviceFile,
        `environments[${m.env}].resources.postgreSQL.memoryGB`,
        'Cloud SQL custom machines have 0.9 to 6.5 GB of memory per CPU',
      );
    resource.google_sql_database_instance = {
      database: {
        project,
        name: sqlInstanceName(m),
        region,
        database_version: `POSTGRES_${major}`,
        deletion_protection: !e.allowDestroys,
        settings: {
          tier: `db-custom-${pg.cpu}-${pg.memoryGB * 1024}`,
          edition: 'ENTERPRISE',
          // synchronousWal: Cloud SQL's regional (HA) instance writes every commit to the standby
          // zone's disk before it returns, the zero-loss guarantee the local receiver gives.
          availability_type: pg.highAvailability || pg.synchronousWal ? 'REGIONAL' : 'ZONAL',
          disk_autoresize: true,
          database_flags: [
            { name: 'cloudsql.iam_authentication', value: 'on' },
            { name: 'max_connections', value: String(pg.maxConnections) },
          ],
          backup_configuration: {
            enabled: true,
            start_time: '03:00',
            point_in_time_recovery_enabled: true,
            transaction_log_retention_days: 7,
            backup_retention_settings: { retained_backups: 90, retention_unit: 'COUNT' },
          },
          insights_config: { query_insights_enabled: true, record_application_tags: true },
          user_labels: { msp: 'true', environment: m.env },
        },
      },
    };
    resource.google_sql_database = Object.fromEntries(
      pg.databases.map((name) => [
        name,
        { project, instance: '${google_sql_database_instance.database.name}', name },
      ]),
    );
    resource.google_sql_user = Object.fromEntries(
      (['workload', 'operator'] as const).map((who) => [
        who,
        {
          project,
          instance: '${google_sql_database_instance.database.name}',
          name: saEmail(m, who).replace(/\.gserviceaccount\.com$/, ''),
          type: 'CLOUD_IAM_SERVICE_ACCOUNT',
        },
      ]),
    );
  }
  return { variable, resource };
}

function monitoringStack(m: DeploymentModel): Json {
  const policies = policiesOf(m, 'gcp');
  const resource: Json = {};
  const uptime = policies.find((p) => p.uptimeCheck);
  const uptimeConfig = uptime ? uptimeCheck(m, uptime) : undefined;
  if (uptimeConfig) resource.google_monitoring_uptime_check_config = { uptime: uptimeConfig };
  resource.google_monitoring_alert_policy = Object.fromEntries(
    policies.map((p) => [
      p.id.replace(/-/g, '_'),
      alertPolicy(m, p, uptimeConfig ? 'google_monitoring_uptime_check_config.uptime' : undefined),
    ]),
  );
  return {
    variable: {
      diagnostics_secret: { type: 'string', sensitive: true },
      notification_channels_chat: { type: 'list(string)', default: [] },
      notification_channels_page: { type: 'list(string)', default: [] },
    },
    resource,
  };
}

export function gcpFiles(
  repo: PlatformRepo,
  models: DeploymentModel[],
  options: GcpOptions,
): { files: { path: string; content: string }[]; scopes: string[] } {
  const files: { path: string; content: string }[] = [];
  const scopes: string[] = [];
  for (const m of models) {
    const dir = `gcp/${m.env}/${m.name}`;
    scopes.push(dir);
    const stacks: [GcpStack, Json][] = [
      ['project', projectStack(m)],
      ['iam', iamStack(m)],
      ['cloudrun', cloudRunStack(m, options, m.defaultRelease)],
      ['monitoring', monitoringStack(m)],
    ];
    const stages = m.deployment.service.rollout?.stages ?? [];
    if (!m.deployment.instance && stages.length > 0 && stages[stages.length - 1]!.environment === m.env)
      stacks.push(['rollout', rolloutStack(repo, m, options)]);
    stacks.push([
      'workspaces',
      workspacesStack(
        m,
        dir,
        stacks.map(([stack]) => stack),
      ),
    ]);
    for (const [stack, body] of stacks)
      files.push({
        path: `${dir}/${stack}/${stack}.tf.json`,
        content: toJson(terraform(m, stack, options, body)),
      });
  }
  return { files, scopes };
}
