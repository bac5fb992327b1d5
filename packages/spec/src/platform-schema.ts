/** `msp.yaml`: the organisation, its base domain, its environments and the links generated docs use. */
import { z } from 'zod';
import { category, duration, hostname, slug, url, CRON_PATTERN } from './common.js';

export const DEFAULT_NOTIFICATION_CHANNEL = '#alerts-{service}-{env}';

export const environmentConfigSchema = z
  .strictObject({
    id: slug('an environment id'),
    category: category(),
    runtime: z.enum(['local', 'kubernetes', 'gcp']).default('local'),
    description: z.string().optional(),
    notifications: z
      .strictObject({
        channels: z.array(z.string().min(1)).min(1).default([DEFAULT_NOTIFICATION_CHANNEL]),
      })
      .prefault({}),
    access: z
      .strictObject({
        restricted: z.boolean().optional(),
        maxGrantDuration: duration().default('8h'),
      })
      .prefault({}),
    backups: z
      .strictObject({
        archiveTimeoutSeconds: z.int().min(1).max(3600).default(60),
        baseBackupCron: z
          .string()
          .regex(CRON_PATTERN, 'must be a cron expression of five fields')
          .default('0 3 * * *'),
      })
      .prefault({}),
  })
  .transform((env) => ({
    ...env,
    // Production environments are restricted unless msp.yaml says otherwise.
    access: {
      restricted: env.access.restricted ?? env.category !== 'test',
      maxGrantDuration: env.access.maxGrantDuration,
    },
  }));

/** Where alert notifications go (docs/alerts.md): chat webhooks, signed JSON webhooks, a pager. */
export const alertChannelSchema = z
  .strictObject({
    name: slug('a channel name'),
    type: z.enum(['slack', 'webhook', 'pager']),
    url: url(),
    /** `webhook`: the name of the HMAC-SHA256 key in the secret store (`msp alerts secret set <name>`). */
    secret: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/, 'a secret name: lowercase letters, digits, - and _')
      .optional(),
    /** Only these environments' alerts; all when absent. */
    environments: z.array(z.string().min(1)).optional(),
  })
  .refine((c) => c.type !== 'webhook' || c.secret !== undefined, {
    message: 'a webhook channel needs `secret`: the name of its HMAC key in the secret store',
    path: ['secret'],
  });

export const alertingSchema = z
  .strictObject({
    /** Shrinks every window, duration and check period (demos and tests only); thresholds stay. */
    timeScale: z.number().gt(0).max(1).default(1),
    sampleIntervalSeconds: z.number().min(0.2).max(300).default(10),
    dashboardUrl: url().optional(),
    channels: z.array(alertChannelSchema).default([]),
  })
  .prefault({});

export const platformConfigSchema = z.strictObject({
  organization: z.strictObject({ name: z.string().min(1) }),
  baseDomain: hostname(),
  releaseRegistry: z.strictObject({ url: url(), tokenSecret: z.string().min(1) }).optional(),
  environments: z.array(environmentConfigSchema).min(1),
  notifications: z
    .strictObject({
      sharedChannel: z.string().min(1).optional(),
      chatUrl: z.string().min(1).optional(),
    })
    .prefault({}),
  alerting: alertingSchema,
  links: z
    .strictObject({
      repository: url().optional(),
      repositoryBlobPath: z.string().default('/blob/main'),
      platformDocs: url().optional(),
      support: z.strictObject({ team: z.string().min(1), channel: z.string().min(1).optional() }).optional(),
      accessRequests: url().optional(),
    })
    .prefault({}),
});

export type PlatformConfig = z.output<typeof platformConfigSchema>;
export type EnvironmentConfig = z.output<typeof environmentConfigSchema>;
export type AlertingConfig = z.output<typeof alertingSchema>;
export type AlertChannelConfig = z.output<typeof alertChannelSchema>;
