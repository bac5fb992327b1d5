/** What a rollout operation carries in its stored input, read back through a schema, not cast. */
import { z } from 'zod';
import type { RolloutAction } from '@msp/core';
import type { TargetRelease } from '../state/store.js';
import type { StageRelease } from './store.js';

export const ROLLOUT_KINDS = ['deliver', 'promote', 'rollback', 'deploy-release'] as const;

const targetRelease = z.object({
  version: z.string(),
  artifact: z.object({ digest: z.string(), url: z.string().optional() }).optional(),
});

export const moveInput = z.looseObject({
  service: z.string(),
  environment: z.string(),
  action: z.enum(ROLLOUT_KINDS),
  version: z.string(),
  target: targetRelease.nullable(),
  from: z.string().nullable(),
  previous: z.object({ version: z.string(), target: targetRelease.nullable() }).nullable(),
  soakSeconds: z.number().min(0).optional(),
});

export interface MoveInput {
  service: string;
  environment: string;
  action: RolloutAction;
  version: string;
  target: TargetRelease | null;
  from: string | null;
  previous: StageRelease | null;
  soakSeconds?: number;
}
