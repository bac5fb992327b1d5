/**
 * The workload of one deployment on Kubernetes: Namespace, Deployment (or CronJob for a job) with the
 * runtime contract's environment and `/-/healthz` probes, HorizontalPodAutoscaler, Service, Ingress and the
 * PersistentVolumeClaims of its volumes. Secrets are referenced by name, never inlined.
 */
import { CannotExpress } from '../errors.js';
import { envName, type DeploymentModel } from '../model.js';

export type Manifest = Record<string, unknown> & { apiVersion: string; kind: string };

export const PORT = 8080;

export function labelsOf(m: DeploymentModel): Record<string, string> {
  return {
    'app.kubernetes.io/managed-by': 'msp',
    'app.kubernetes.io/name': m.workload,
    'app.kubernetes.io/instance': m.namespace,
    'msp.dev/environment': m.env,
  };
}

export function selectorOf(m: DeploymentModel): Record<string, string> {
  return { 'app.kubernetes.io/name': m.workload, 'app.kubernetes.io/instance': m.namespace };
}

export const meta = (m: DeploymentModel, name: string, namespace = m.namespace) => ({
  name,
  namespace,
  labels: labelsOf(m),
});

export const dbName = (m: DeploymentModel) => `${m.workload}-db`;
export const diagnosticsSecret = (m: DeploymentModel) => `${m.workload}-diagnostics`;

export function namespace(m: DeploymentModel): Manifest {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: m.namespace, labels: labelsOf(m) } };
}

/** The environment of the runtime contract (REFERENCE §1), plus the spec's env and secretEnv. */
function containerEnv(m: DeploymentModel): unknown[] {
  const d = m.deployment;
  const e = d.environment;
  const plain: Record<string, string> = {
    PORT: String(PORT),
    MSP: 'true',
    ENVIRONMENT_ID: e.id,
    MSP_SERVICE: m.workload,
    MSP_DEPLOYMENT: d.key,
    NODE_ENV: 'production',
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
  const secretRef = (name: string, key: string) => ({ valueFrom: { secretKeyRef: { name, key } } });
  const fromSecret: Record<string, unknown> = {
    DIAGNOSTICS_SECRET: secretRef(diagnosticsSecret(m), 'secret'),
  };
  for (const [name, secret] of Object.entries(e.secretEnv)) fromSecret[name] = secretRef(secret, 'value');
  const pg = e.resources.postgreSQL;
  if (pg) {
    plain.PGHOST = `${dbName(m)}-rw`;
    plain.PGPORT = '5432';
    plain.PGDATABASE = pg.databases[0]!;
    for (const db of pg.databases) plain[`PGDATABASE_${envName(db)}`] = db;
    // CloudNativePG writes the owner's credentials to the `<cluster>-app` secret.
    fromSecret.PGUSER = secretRef(`${dbName(m)}-app`, 'username');
    fromSecret.PGPASSWORD = secretRef(`${dbName(m)}-app`, 'password');
  }
  for (const v of e.resources.volumes) plain[`VOLUME_${envName(v.name)}`] = `/data/${v.name}`;
  const all = [
    ...Object.entries(plain).map(([name, value]) => ({ name, value })),
    ...Object.entries(fromSecret).map(([name, ref]) => ({ name, ...(ref as object) })),
  ];
  return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The kubelet's httpGet probes cannot read a Secret, so the probe runs in the container with its own
 * DIAGNOSTICS_SECRET (the image needs `sh` and `wget`, as busybox, Alpine and Debian images have).
 */
function probes(m: DeploymentModel): Record<string, unknown> {
  const h = m.deployment.environment.healthProbes;
  if (!h || !h.healthzProbes) {
    // Without healthProbes the original used a generous 240 s probe on `/`.
    return {
      startupProbe: {
        httpGet: { path: '/', port: 'http' },
        periodSeconds: 10,
        failureThreshold: 24,
        timeoutSeconds: 3,
      },
    };
  }
  const check = {
    exec: {
      command: [
        'sh',
        '-c',
        'wget -q -O /dev/null --header "Authorization: Bearer $DIAGNOSTICS_SECRET" "http://127.0.0.1:$PORT/-/healthz"',
      ],
    },
    timeoutSeconds: h.timeout,
  };
  return {
    startupProbe: { ...check, periodSeconds: h.startupInterval, failureThreshold: 3 },
    livenessProbe: { ...check, periodSeconds: h.livenessInterval, failureThreshold: 3 },
    readinessProbe: { ...check, periodSeconds: Math.min(10, h.livenessInterval), failureThreshold: 1 },
  };
}

function podSpec(m: DeploymentModel, image: string): Record<string, unknown> {
  const e = m.deployment.environment;
  const { cpu, memory } = e.instances.resources;
  const volumes: unknown[] = [];
  const mounts: unknown[] = [];
  for (const v of e.resources.volumes) {
    volumes.push({
      name: `volume-${v.name}`,
      persistentVolumeClaim: { claimName: `${m.workload}-${v.name}` },
    });
    mounts.push({ name: `volume-${v.name}`, mountPath: `/data/${v.name}` });
  }
  for (const [name, sv] of Object.entries(e.secretVolumes).sort(([a], [b]) => (a < b ? -1 : 1))) {
    volumes.push({ name: `secret-${name}`, secret: { secretName: sv.secret } });
    mounts.push({ name: `secret-${name}`, mountPath: sv.mountPath, readOnly: true });
  }
  const container = {
    name: m.workload,
    image,
    ports:
      m.deployment.service.service.kind === 'service' ? [{ name: 'http', containerPort: PORT }] : undefined,
    env: containerEnv(m),
    resources: {
      requests: { cpu: String(cpu), memory },
      limits: { cpu: String(cpu), memory },
    },
    ...(m.deployment.service.service.kind === 'service' ? probes(m) : {}),
    volumeMounts: mounts.length > 0 ? mounts : undefined,
  };
  return {
    containers: [container],
    volumes: volumes.length > 0 ? volumes : undefined,
    automountServiceAccountToken: false,
  };
}

function imageOf(m: DeploymentModel): string {
  if (m.image === undefined)
    throw new CannotExpress(
      'kubernetes',
      m.serviceFile,
      'build.image',
      'a cluster runs container images, and this service names none; add `build.image`',
    );
  return m.image;
}

export function workload(m: DeploymentModel): Manifest[] {
  const d = m.deployment;
  const e = d.environment;
  const image = imageOf(m);
  if (e.resources.redis)
    throw new CannotExpress(
      'kubernetes',
      m.serviceFile,
      `environments[${m.env}].resources.redis`,
      'Redis is not generated for Kubernetes yet; run the environment on the local runtime or drop it',
    );
  const template = { metadata: { labels: labelsOf(m) }, spec: podSpec(m, image) };
  if (d.service.service.kind === 'job') {
    if (!e.schedule)
      throw new CannotExpress(
        'kubernetes',
        m.serviceFile,
        `environments[${e.id}].schedule`,
        'a job needs a schedule',
      );
    return [
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: meta(m, m.workload),
        spec: {
          schedule: e.schedule.cron,
          concurrencyPolicy: 'Forbid',
          jobTemplate: {
            spec: {
              activeDeadlineSeconds: e.schedule.deadlineSeconds,
              template: { ...template, spec: { ...template.spec, restartPolicy: 'Never' } },
            },
          },
        },
      },
    ];
  }
  const { minCount, maxCount } = e.instances.scaling;
  const min = Math.max(1, minCount);
  const out: Manifest[] = [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(m, m.workload),
      spec: {
        replicas: min,
        selector: { matchLabels: selectorOf(m) },
        template,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      },
    },
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: meta(m, m.workload),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: m.workload },
        minReplicas: min,
        maxReplicas: Math.max(min, maxCount),
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
          },
        ],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(m, m.workload),
      spec: {
        selector: selectorOf(m),
        ports: [
          {
            name: 'http',
            port: 80,
            targetPort: 'http',
            ...(d.service.service.protocol === 'h2c' ? { appProtocol: 'kubernetes.io/h2c' } : {}),
          },
        ],
      },
    },
  ];
  if (d.domain !== undefined) {
    out.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: meta(m, m.workload),
      spec: {
        tls: [{ hosts: [d.domain], secretName: `${m.workload}-tls` }],
        rules: [
          {
            host: d.domain,
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: m.workload, port: { name: 'http' } } },
                },
              ],
            },
          },
        ],
      },
    });
  }
  return out;
}

/** One claim per declared volume. Several instances share a volume, so it needs ReadWriteMany storage. */
export function volumeClaims(m: DeploymentModel): Manifest[] {
  const e = m.deployment.environment;
  const shared = e.instances.scaling.maxCount > 1;
  return e.resources.volumes.map((v) => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: meta(m, `${m.workload}-${v.name}`),
    spec: {
      accessModes: [shared ? 'ReadWriteMany' : 'ReadWriteOnce'],
      resources: { requests: { storage: `${v.sizeGB}Gi` } },
    },
  }));
}
