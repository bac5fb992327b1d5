/**
 * `services/<id>/service.yaml`: what runs, where, with which resources, alerts and rollout stages.
 * Field rules live here; rules that relate fields to each other live in service-rules.ts, so that every
 * mistake of a file is reported at once.
 */
import { z } from 'zod';
import {
  category,
  hostname,
  slug,
  parseMemory,
  CRON_PATTERN,
  ENV_NAME_PATTERN,
  SERVICE_ID_MAX,
  SERVICE_ID_PATTERN,
  isProduction,
} from './common.js';

const positiveInt = () => z.int().min(1);

export const serviceBlockSchema = z
  .strictObject({
    // One message per bad id: the pattern check stops the length check.
    id: z
      .string()
      .regex(SERVICE_ID_PATTERN, {
        error: 'a service id uses only lowercase letters, digits and dashes (^[a-z0-9-]+$)',
        abort: true,
      })
      .max(SERVICE_ID_MAX, `a service id has at most ${SERVICE_ID_MAX} characters`),
    name: z.string().min(1).optional(),
    owners: z.array(z.string().min(1)).min(1, 'list at least one owning team'),
    description: z
      .string()
      .trim()
      .min(1, 'describe what the service does')
      .refine((d) => d.toUpperCase() !== 'TODO', 'replace `TODO` with a real description'),
    kind: z.enum(['service', 'job']).default('service'),
    protocol: z.enum(['http', 'h2c']).default('http'),
  })
  .transform((s) => ({ ...s, name: s.name ?? s.id }));

export const buildSchema = z.strictObject({
  image: z.string().min(1).optional(),
  source: z.strictObject({ repo: z.string().min(1), dir: z.string().min(1).default('.') }).optional(),
  local: z
    .strictObject({
      dir: z.string().min(1),
      command: z.array(z.string().min(1)).min(1, 'give the command as a list: ["node", "server.js"]'),
    })
    .optional(),
});

const memory = z
  .string()
  .refine((m) => parseMemory(m) !== undefined, 'must be a quantity such as `512Mi` or `2Gi`')
  .refine((m) => {
    const mi = parseMemory(m);
    return mi === undefined || (mi >= 512 && mi <= 32 * 1024);
  }, 'must be between 512Mi and 32Gi');

export const healthProbesSchema = z
  .strictObject({
    healthzProbes: z.boolean().default(true),
    timeout: z.int().min(1).max(240).default(3),
    startupInterval: z.int().min(1).max(3600).optional(),
    livenessInterval: z.int().min(1).max(3600, 'livenessInterval is at most 3600 seconds').optional(),
  })
  .transform((h) => ({
    ...h,
    startupInterval: h.startupInterval ?? h.timeout,
    livenessInterval: h.livenessInterval ?? 10 * h.timeout,
  }));

export const postgreSQLSchema = z.strictObject({
  databases: z
    .array(z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a database name uses lowercase letters, digits and _'))
    .min(1, 'list at least one database'),
  cpu: z.int().min(1).max(96).default(1),
  memoryGB: z.int().min(1).default(4),
  maxConnections: z.int().min(14).max(262143).default(100),
  highAvailability: z.boolean().default(false),
  /** Commits wait until the WAL receiver has the commit on disk (RPO 0; each commit pays a round trip). */
  synchronousWal: z.boolean().optional(),
});

export const volumeSchema = z.strictObject({
  name: slug('a volume name'),
  sizeGB: positiveInt().max(65536).default(10),
});

export const serviceEnvironmentSchema = z
  .strictObject({
    id: slug('an environment id'),
    projectID: z.string().min(1).optional(),
    category: category(),
    deploy: z.strictObject({
      type: z.enum(['manual', 'subscription', 'rollout']),
      manual: z.strictObject({ tag: z.string().min(1).default('insiders') }).optional(),
      subscription: z.strictObject({ tag: z.string().min(1) }).optional(),
    }),
    domain: hostname().optional(),
    healthProbes: healthProbesSchema.optional(),
    authentication: z.strictObject({ required: z.boolean().default(false) }).optional(),
    instances: z
      .strictObject({
        resources: z
          .strictObject({
            cpu: z.int().min(1).max(8).default(1),
            memory: memory.default('512Mi'),
          })
          .prefault({}),
        scaling: z
          .strictObject({
            minCount: z.int().min(0).max(1000).default(1),
            maxCount: z.int().min(1).max(1000).default(5),
            maxRequestConcurrency: positiveInt().max(1000).default(1000),
          })
          .prefault({}),
      })
      .prefault({}),
    env: z
      .record(
        z.string().regex(ENV_NAME_PATTERN, 'must be a variable name (letters, digits and _)'),
        z.string(),
      )
      .default({}),
    secretEnv: z
      .record(
        z.string().regex(ENV_NAME_PATTERN, 'must be a variable name (letters, digits and _)'),
        z.string().min(1),
      )
      .default({}),
    secretVolumes: z
      .record(z.string().min(1), z.strictObject({ mountPath: z.string().min(1), secret: z.string().min(1) }))
      .default({}),
    resources: z
      .strictObject({
        postgreSQL: postgreSQLSchema.optional(),
        redis: z
          .strictObject({
            memoryGB: positiveInt().max(300).default(1),
            highAvailability: z.boolean().default(false),
          })
          .optional(),
        volumes: z.array(volumeSchema).default([]),
      })
      .prefault({}),
    alerting: z.strictObject({ pager: z.boolean().optional() }).prefault({}),
    allowDestroys: z.boolean().default(false),
    schedule: z
      .strictObject({
        cron: z.string().regex(CRON_PATTERN, 'must be a cron expression of five fields, e.g. `0 * * * *`'),
        deadlineSeconds: positiveInt().max(86400).default(300),
      })
      .optional(),
  })
  .transform((e) => ({
    ...e,
    // Pages only where it matters unless the spec says otherwise.
    alerting: { pager: e.alerting.pager ?? isProduction(e.category) },
  }));

export const responseCodeRatioSchema = z.strictObject({
  id: z.string().regex(SERVICE_ID_PATTERN, 'an alert id uses only lowercase letters, digits and dashes'),
  name: z.string().min(1),
  description: z.string().optional(),
  code: z.int().min(100).max(599).optional(),
  codeClass: z
    .string()
    .regex(/^[1-5]xx$/, 'must be a status class such as `5xx`')
    .optional(),
  excludeCodes: z.array(z.int().min(100).max(599)).default([]),
  durationMinutes: z.int().min(1).max(1440).default(1),
  ratio: z.number().min(0).max(1),
});

export const customAlertSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().min(1),
  severityLevel: z.enum(['WARNING', 'CRITICAL']).default('WARNING'),
  condition: z.strictObject({
    type: z.enum(['promql', 'mql']).default('promql'),
    query: z.string().min(1),
    durationMinutes: z.int().min(0).max(1440).default(1),
  }),
});

export const monitoringSchema = z.strictObject({
  alerts: z
    .strictObject({
      responseCodeRatios: z.array(responseCodeRatioSchema).default([]),
      customAlerts: z.array(customAlertSchema).default([]),
    })
    .prefault({}),
});

export const rolloutSchema = z.strictObject({
  stages: z
    .array(z.strictObject({ environment: z.string().min(1) }))
    .min(1, 'a rollout needs at least one stage'),
  suspended: z.boolean().default(false),
  initialImageTag: z.string().min(1).default('insiders'),
});

export const serviceSpecSchema = z
  .strictObject({
    service: serviceBlockSchema,
    build: buildSchema.prefault({}),
    environments: z.array(serviceEnvironmentSchema).min(1, 'declare at least one environment'),
    monitoring: monitoringSchema.prefault({}),
    rollout: rolloutSchema.optional(),
  })
  .transform((spec) => ({
    ...spec,
    environments: spec.environments.map((e) => ({
      ...e,
      projectID: e.projectID ?? `${spec.service.id}-${e.id}`,
    })),
  }));

export type ServiceSpec = z.output<typeof serviceSpecSchema>;
export type ServiceEnvironment = ServiceSpec['environments'][number];
export type PostgreSQLSpec = z.output<typeof postgreSQLSchema>;
export type HealthProbes = z.output<typeof healthProbesSchema>;
export type ResponseCodeRatio = z.output<typeof responseCodeRatioSchema>;
export type CustomAlert = z.output<typeof customAlertSchema>;
export type Rollout = z.output<typeof rolloutSchema>;
