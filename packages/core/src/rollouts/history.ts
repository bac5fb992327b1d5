/** The record of every delivery, promotion, deployment and rollback: what, from, to, who, when, outcome. */

export const RolloutAction = {
  Deliver: 'deliver',
  Promote: 'promote',
  Rollback: 'rollback',
  Deploy: 'deploy-release',
} as const;
export type RolloutAction = (typeof RolloutAction)[keyof typeof RolloutAction];

export type RolloutOutcome = 'in-progress' | 'succeeded' | 'failed' | 'rolled-back' | 'refused';

export interface RolloutRecord {
  readonly id: number;
  readonly service: string;
  readonly action: RolloutAction;
  /** The release that moved. */
  readonly version: string;
  /** The stage it came from (a promotion), if any. */
  readonly fromEnvironment: string | null;
  readonly toEnvironment: string;
  /** What the target stage ran before. */
  readonly previousVersion: string | null;
  readonly actor: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly outcome: RolloutOutcome;
  /** Why it failed or was rolled back. */
  readonly reason: string | null;
  readonly operationId: string | null;
}

/** One line for `msp rollout history`. */
export function describeRecord(r: RolloutRecord): string {
  const move =
    r.action === 'promote' && r.fromEnvironment
      ? `${r.fromEnvironment} → ${r.toEnvironment}`
      : `→ ${r.toEnvironment}`;
  const prev = r.previousVersion ? ` (was ${r.previousVersion})` : '';
  return `${r.startedAt}  ${r.action.padEnd(14)} ${r.version.padEnd(10)} ${move}${prev}  by ${r.actor}: ${r.outcome}${r.reason ? ` (${r.reason})` : ''}`;
}

/** Notification channels of an environment with `{service}` and `{env}` expanded. */
export function expandChannels(channels: readonly string[], service: string, env: string): string[] {
  return channels.map((c) => c.replaceAll('{service}', service).replaceAll('{env}', env));
}
