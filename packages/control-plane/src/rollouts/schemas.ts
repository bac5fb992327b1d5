/** Request bodies of the releases and rollouts routes (also in the OpenAPI document). */
import { z } from 'zod';

const service = z.string().regex(/^[a-z0-9-]+$/, 'a service id such as "releaseregistry"');
const version = z.string().regex(/^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'a version such as "v1.2.3"');
const soakSeconds = z.number().min(0).max(3600).optional();
export const releaseCreateBody = z.strictObject({
  service,
  version,
  from: z.string().min(1).optional(),
  image: z.string().min(1).optional(),
  gitSha: z
    .string()
    .regex(/^[0-9a-fA-F]{7,40}$/)
    .optional(),
  development: z.boolean().optional(),
  soakSeconds,
});
export const releasePublishBody = z.strictObject({ service, version });
export const rolloutPromoteBody = z.strictObject({
  service,
  to: z.string().min(1).optional(),
  version: version.optional(),
  soakSeconds,
});
export const rolloutServiceBody = z.strictObject({ service });
export const rolloutRollbackBody = z.strictObject({ service, environment: z.string().min(1), soakSeconds });
export const rolloutDeployBody = z.strictObject({
  service,
  environment: z.string().min(1),
  version,
  soakSeconds,
});
