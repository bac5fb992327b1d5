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
        /** Roles whose holders may approve access requests here (never their own). */
        approverRoles: z
          .array(z.enum(['operator', 'admin']))
          .min(1)
          .default(['admin']),
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
      approverRoles: env.access.approverRoles,
    },
  }));

const ringShare = z.int().min(0).max(100);

/** Managed instances: the product's migrator and the ring plan of fleet upgrades. */
export const instancesConfigSchema = z.strictObject({
  /** The one-off command an upgrade runs in the new release's code before it deploys it. */
  migrator: z.array(z.string().min(1)).min(1).optional(),
  /**
   * Fleet upgrade rings in order, each the cumulative share (percent) of every instance type upgraded once
   * it is done: the seed's "30% of trials, 10% of customers".
   */
  rings: z
    .array(
      z.strictObject({
        name: slug('a ring name'),
        internal: ringShare.optional(),
        trial: ringShare.optional(),
        production: ringShare.optional(),
      }),
    )
    .min(1)
    .optional(),
  /** Wait between rings of a fleet upgrade (default 10m; `--soak` overrides). */
  soak: duration().optional(),
});
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
  /** Who may call the control plane besides its own tokens: bearer JWTs of an OIDC issuer. */
  access: z
    .strictObject({
      oidc: z
        .strictObject({
          issuer: url(),
          /** The `aud` the JWTs must carry. */
          audience: z.string().min(1),
          /** The claim naming the user (an `msp users add` name). */
          usernameClaim: z.string().min(1).default('email'),
          /** A claim with the role (viewer|operator|admin) for people not added with `msp users add`. */
          roleClaim: z.string().min(1).optional(),
          /** The dashboard's OAuth client at the issuer, for browser sign-in (default: `audience`). */
          clientId: z.string().min(1).optional(),
          /** The name of the client's secret in the secret store (`msp access oidc-secret set`); never the secret. */
          clientSecret: z
            .string()
            .regex(/^[a-z0-9][a-z0-9_-]*$/, 'a secret name: lowercase letters, digits, - and _')
            .optional(),
        })
        .optional(),
    })
    .prefault({}),
  instances: instancesConfigSchema.optional(),
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
