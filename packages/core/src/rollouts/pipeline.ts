/**
 * Rollout pipelines as data: the stages of `rollout.stages`, which stage a release may go to next, and
 * whether the pipeline is suspended. Pure: the caller passes in what each stage runs and which releases
 * have passed through which stage.
 */
import { InputError, PreconditionFailedError } from '../errors.js';

export interface Pipeline {
  readonly service: string;
  /** Environment ids in order; the first takes new releases by itself (continuous delivery). */
  readonly stages: readonly string[];
  /** `rollout.suspended` in the spec. */
  readonly suspendedInSpec: boolean;
  /** `msp rollout suspend|resume` at run time; undefined follows the spec. */
  readonly suspendedOverride?: boolean;
}

export function pipelineOf(options: {
  service: string;
  stages: readonly string[];
  suspendedInSpec?: boolean;
  suspendedOverride?: boolean | null;
}): Pipeline {
  if (options.stages.length === 0) {
    throw new InputError(`Service ${options.service} has no rollout stages: add rollout.stages to its spec.`);
  }
  return {
    service: options.service,
    stages: [...options.stages],
    suspendedInSpec: options.suspendedInSpec ?? false,
    ...(options.suspendedOverride === null || options.suspendedOverride === undefined
      ? {}
      : { suspendedOverride: options.suspendedOverride }),
  };
}

export function isSuspended(p: Pipeline): boolean {
  return p.suspendedOverride ?? p.suspendedInSpec;
}

function refuseIfSuspended(p: Pipeline, what: string): void {
  if (!isSuspended(p)) return;
  const why =
    p.suspendedOverride === true
      ? 'someone ran `msp rollout suspend`'
      : 'its spec says `rollout.suspended: true`';
  throw new PreconditionFailedError(
    `The rollout pipeline of ${p.service} is suspended (${why}): ${what} refused. Resume it with \`msp rollout resume ${p.service}\`.`,
  );
}

/** A move of one release to one stage. */
export interface StageMove {
  readonly kind: 'deliver' | 'promote';
  readonly version: string;
  /** The stage the release comes from; absent for a delivery. */
  readonly from?: string;
  readonly to: string;
}

/** Continuous delivery: a new release goes to the first stage, unless the pipeline is suspended. */
export function planDelivery(p: Pipeline, version: string): StageMove {
  refuseIfSuspended(p, `delivery of ${version}`);
  return { kind: 'deliver', version, to: p.stages[0]! };
}

export interface PromotionRequest {
  /** The stage to promote to; default: the first stage after one whose release the next one lacks. */
  readonly to?: string;
  /** A release that passed through the previous stage; default: what the previous stage runs. */
  readonly version?: string;
  /** What each stage runs now (version), by environment. */
  readonly current: Readonly<Record<string, string | undefined>>;
  /** Whether a release was deployed successfully to an environment at some time. */
  readonly passed: (version: string, environment: string) => boolean;
  /** Releases that failed their health gate and must not move on. */
  readonly failed?: (version: string) => boolean;
}

/** Promotion: a release moves from a stage to the next one only. */
export function planPromotion(p: Pipeline, request: PromotionRequest): StageMove {
  if (p.stages.length < 2) {
    throw new InputError(
      `The pipeline of ${p.service} has one stage (${p.stages[0]}): there is nothing to promote to.`,
    );
  }
  refuseIfSuspended(p, `promotion${request.version ? ` of ${request.version}` : ''}`);
  let to = request.to;
  if (to === undefined) {
    // The first stage that does not yet run what its previous stage runs.
    to = p.stages.slice(1).find((env, i) => {
      const prev = request.current[p.stages[i]!];
      return prev !== undefined && prev !== request.current[env];
    });
    if (to === undefined) {
      throw new PreconditionFailedError(
        `Every stage of ${p.service} already runs the release of the stage before it; create a release first (\`msp release create ${p.service} --version …\`), or name one with --to and --release.`,
      );
    }
  }
  const index = p.stages.indexOf(to);
  if (index < 0) {
    throw new InputError(`${to} is not a stage of ${p.service}'s rollout (stages: ${p.stages.join(' → ')}).`);
  }
  if (index === 0) {
    throw new InputError(
      `${to} is the first stage of ${p.service}: releases reach it by delivery (\`msp release create\`), not promotion.`,
    );
  }
  const from = p.stages[index - 1]!;
  const version = request.version ?? request.current[from];
  if (version === undefined) {
    throw new PreconditionFailedError(
      `Stage ${from} of ${p.service} runs no release yet: deliver one first (\`msp release create\`).`,
    );
  }
  if (request.failed?.(version)) {
    throw new PreconditionFailedError(
      `${p.service} ${version} failed its health gate: it cannot be promoted to ${to}. Fix it and create a new release.`,
    );
  }
  if (!request.passed(version, from)) {
    throw new PreconditionFailedError(
      `${p.service} ${version} has not passed through ${from}: only a release deployed successfully to ${from} may be promoted to ${to}.`,
    );
  }
  return { kind: 'promote', version, from, to };
}
