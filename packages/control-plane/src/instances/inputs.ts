/** What the instance playbooks carry in their stored input, read back through schemas, not cast. */
import { z } from 'zod';
import type { TargetRelease } from '../state/store.js';

export const INSTANCE_KINDS = ['instance-create', 'instance-upgrade', 'instance-delete'] as const;
export type InstanceKind = (typeof INSTANCE_KINDS)[number];

const targetRelease = z.object({
  version: z.string(),
  artifact: z.object({ digest: z.string(), url: z.string().optional() }).optional(),
});

export const createInput = z.looseObject({
  env: z.string(),
  id: z.string(),
  /** The config.yaml fields, in file order. */
  config: z.record(z.string(), z.unknown()),
  target: targetRelease,
});

export const upgradeInput = z.looseObject({
  from: z.string(),
  to: z.string(),
  target: targetRelease,
  previous: targetRelease.nullable(),
  /** Set by a fleet: the fleet's id, for its report. */
  fleet: z.string().optional(),
});

export const deleteInput = z.looseObject({
  /** Why: by hand, or the TTL ran out. */
  expired: z.boolean().optional(),
});

export interface UpgradeInput {
  from: string;
  to: string;
  target: TargetRelease;
  previous: TargetRelease | null;
  fleet?: string;
}

export const CREATE_STEPS = ['config', 'provision'] as const;
export const CREATE_TAIL = ['health-check', 'alerting'] as const;
export const UPGRADE_STEPS = ['health-check', 'pre-upgrade-backup', 'migrate', 'release'] as const;
export const UPGRADE_TAIL = [
  'verify',
  'config-bump',
  'rollback-release',
  'rollback-data',
  'rollback-check',
  'outcome',
] as const;
export const DELETE_STEPS = ['final-backup', 'config'] as const;
