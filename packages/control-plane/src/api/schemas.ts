/** Request bodies of the control plane API: validated by the routes, documented by the OpenAPI document. */
import { z } from 'zod';

export const pgConnectBody = z.strictObject({
  deployment: z.string().min(1),
  access: z.enum(['read', 'write']).default('read'),
  sessionTimeoutSeconds: z.number().int().min(0).max(86_400).default(300),
});

export const deploymentActionBody = z.strictObject({
  reason: z.string().max(500).optional(),
  /** delete only: the deployment's key, to delete one the platform repo still declares (after a final backup). */
  confirm: z.string().max(500).optional(),
});
