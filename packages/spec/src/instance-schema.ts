/** `environments/<env>/deployments/<id>/config.yaml`: one managed instance of a product service. */
import { z } from 'zod';
import { duration, hostname, slug, EMAIL_PATTERN, VERSION_PATTERN } from './common.js';

export const instanceFileSchema = z.strictObject({
  service: z.string().min(1),
  customer: slug('a customer slug'),
  type: z.enum(['trial', 'production', 'internal']),
  adminEmail: z.string().regex(EMAIL_PATTERN, 'must be an email address such as `admin@example.com`'),
  domain: hostname().optional(),
  version: z.string().regex(VERSION_PATTERN, 'must be a release version such as `v1.2.0`'),
  channel: z.enum(['stable', 'insiders']).default('stable'),
  features: z.array(z.string().min(1)).default([]),
  region: z.string().min(1).default('local'),
  license: z.string().min(1).optional(),
  ttl: duration().optional(),
  paused: z.boolean().default(false),
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
