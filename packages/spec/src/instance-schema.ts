/** `environments/<env>/deployments/<id>/config.yaml`: one managed instance of a product service. */
import { z } from 'zod';
import { duration, hostname, slug, EMAIL_PATTERN, VERSION_PATTERN } from './common.js';

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

/** A weekly maintenance window: fleet upgrades start on the instance only inside one. */
export const maintenanceWindowSchema = z.strictObject({
  days: z.array(z.enum(WEEKDAYS)).min(1),
  start: z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'must be a time of day such as `02:00`'),
  duration: duration(),
  timezone: z
    .string()
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone such as `Europe/Berlin` or `UTC`')
    .default('UTC'),
});

export const instanceFileSchema = z.strictObject({
  service: z.string().min(1),
  customer: slug('a customer slug'),
  type: z.enum(['trial', 'production', 'internal']),
  adminEmail: z.string().regex(EMAIL_PATTERN, 'must be an email address such as `admin@example.com`'),
  domain: hostname().optional(),
  version: z.string().regex(VERSION_PATTERN, 'must be a release version such as `v1.2.0`'),
  channel: z.enum(['stable', 'insiders', 'pause']).default('stable'),
  features: z.array(z.string().min(1)).default([]),
  region: z.string().min(1).default('local'),
  license: z.string().min(1).optional(),
  ttl: duration().optional(),
  paused: z.boolean().default(false),
  /** When the TTL runs out (RFC 3339), written by `msp instance create --ttl` and `msp instance extend`. */
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  maintenance: z.strictObject({ windows: z.array(maintenanceWindowSchema).min(1) }).optional(),
});

export type InstanceFile = z.output<typeof instanceFileSchema>;

/**
 * A validated instance: the file's fields with every default filled (including `domain`, defaulted from
 * msp.yaml's baseDomain), plus where it lives.
 */
export interface InstanceConfig extends Omit<InstanceFile, 'domain'> {
  /** The folder name: environments/<env>/deployments/<id>/. */
  id: string;
  /** The environment folder name. */
  environment: string;
  /** Repo-relative path of the config.yaml. */
  file: string;
  domain: string;
}
