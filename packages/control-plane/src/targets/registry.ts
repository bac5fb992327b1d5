/**
 * Targets by environment: the control plane runs each deployment on the target registered for its
 * environment's `runtime` (local, kubernetes, gcp). A deployment whose runtime has no registered target is
 * refused with a message that says so; it never runs somewhere else. `view` is one RuntimeTarget over all
 * of them for the API and the reconciler; `handler` runs the targets' own operations (deploy, stop, delete).
 */
import { NotFoundError, PreconditionFailedError, runtimeOf, type DeploymentSpec } from '@msp/core';
import type { DataDir } from '../data-dir.js';
import type { OperationHandler, StepContext } from '../operations/engine.js';
import type { RuntimeTarget, TargetSteps } from '../runtime-port.js';
import type { StateStore } from '../state/store.js';

export interface TargetDeps {
  store: StateStore;
  dataDir: DataDir;
  repoDir: string;
}

/** Builds one runtime target once the store exists. */
export type TargetFactory = (deps: TargetDeps) => Promise<RuntimeTarget>;

export interface RuntimeTargets {
  /** The runtime names that have a target, in registration order. */
  readonly names: readonly string[];
  get(name: string): RuntimeTarget | undefined;
  /** The target of a deployment spec; refuses (412) a runtime without one. */
  forSpec(spec: Pick<DeploymentSpec, 'envConfig' | 'environment' | 'instance'>): RuntimeTarget;
  /** The target of a stored deployment. */
  of(key: string): Promise<RuntimeTarget>;
  /** Why a spec cannot run here, or undefined when its runtime has a target. */
  refusal(spec: Pick<DeploymentSpec, 'envConfig' | 'environment' | 'instance'>): string | undefined;
  /** The handler of deploy, stop and delete: each deployment's target declares and runs the steps. */
  readonly handler: OperationHandler;
  /**
   * Adds a step every delete operation runs before its target's own (the backups feature's final backup),
   * in the order added. Before the engine starts.
   */
  addDeleteStep(name: string, run: (ctx: StepContext) => Promise<string | void>): void;
  /** One RuntimeTarget over every target, each call routed by deployment key (status asks each target). */
  readonly view: RuntimeTarget;
  stop(): Promise<void>;
}

const KINDS = ['deploy', 'stop', 'delete'] as const;
type OwnKind = keyof TargetSteps;

export function createRuntimeTargets(
  targets: ReadonlyMap<string, RuntimeTarget>,
  store: Pick<StateStore, 'getDeployment'>,
): RuntimeTargets {
  const all = [...targets.values()];
  if (all.length === 0) throw new Error('a control plane needs at least one runtime target');
  const names = [...targets.keys()];

  const refusal: RuntimeTargets['refusal'] = (spec) => {
    const runtime = runtimeOf(spec);
    if (targets.has(runtime)) return undefined;
    const env = spec.instance?.environment ?? spec.environment.id;
    return (
      `environment ${env} uses runtime ${runtime}, which this control plane cannot run yet; it runs ${names.join(', ')}. ` +
      `Set \`runtime: ${names[0]}\` for ${env} in msp.yaml, or start a control plane with a ${runtime} target.`
    );
  };
  const forSpec: RuntimeTargets['forSpec'] = (spec) => {
    const why = refusal(spec);
    if (why) throw new PreconditionFailedError(why.charAt(0).toUpperCase() + why.slice(1));
    return targets.get(runtimeOf(spec))!;
  };
  const of = async (key: string) => {
    const row = await store.getDeployment(key);
    if (!row) throw new NotFoundError(`No deployment '${key}'. Run \`msp status\` to list deployments.`);
    return forSpec(row.spec as DeploymentSpec);
  };

  /** An object whose every method is `(key, ...rest)`, routed to the part of the deployment's target. */
  function routed<T extends object>(pick: (t: RuntimeTarget) => T): T {
    return new Proxy({} as T, {
      get: (_o, method) =>
        method === 'then'
          ? undefined
          : async (key: string, ...rest: unknown[]) => {
              const part = pick(await of(key)) as Record<string | symbol, (...a: unknown[]) => unknown>;
              return part[method]!.call(part, key, ...rest);
            },
    });
  }

  const deleteSteps = new Map<string, (ctx: StepContext) => Promise<string | void>>();
  const handler: OperationHandler = {
    kinds: KINDS,
    async steps(kind, _input, key) {
      const own = (await of(key)).steps[kind as OwnKind] ?? [];
      return kind === 'delete' ? [...deleteSteps.keys(), ...own] : own;
    },
    async runStep(step, ctx) {
      const extra = ctx.operation.kind === 'delete' ? deleteSteps.get(step) : undefined;
      if (extra) return extra(ctx);
      return (await of(ctx.operation.deploymentKey)).runStep(step, ctx);
    },
    async onFinished(op) {
      // A deleted deployment has no row left to route by: nothing of it remains to report on.
      const target = await of(op.deploymentKey).catch(() => undefined);
      await target?.onFinished?.(op);
    },
  };

  const view: RuntimeTarget = {
    name: names.join('+'),
    // Operations get their steps from their deployment's target (handler.steps); this is the first target's.
    steps: all[0]!.steps,
    runStep: (step, ctx) => handler.runStep(step, ctx),
    onFinished: (op) => handler.onFinished!(op),
    workloads: routed((t) => t.workloads),
    databases: routed((t) => t.databases),
    volumes: routed((t) => t.volumes),
    status: (key) => all.map((t) => t.status(key)).find((s) => s !== undefined),
    isRunning: (key) => all.some((t) => t.isRunning(key)),
    proxyUrl: () => all.map((t) => t.proxyUrl()).find((u) => u !== undefined),
    async *logs(key, query) {
      yield* (await of(key)).logs(key, query);
    },
    async grantDatabaseAccess(key, request) {
      return (await of(key)).grantDatabaseAccess(key, request);
    },
    async revokeDatabaseAccess(key, user) {
      const target = await of(key);
      return target.revokeDatabaseAccess ? target.revokeDatabaseAccess(key, user) : false;
    },
    metrics() {
      const pendingRequests: Record<string, number> = {};
      for (const t of all) Object.assign(pendingRequests, t.metrics().pendingRequests);
      return { pendingRequests };
    },
    stop: () => stopAll(),
  };
  const stopAll = async () => {
    for (const t of [...all].reverse()) await t.stop();
  };

  return {
    names,
    get: (name) => targets.get(name),
    forSpec,
    of,
    refusal,
    handler,
    addDeleteStep(name, run) {
      if (deleteSteps.has(name) || all.some((t) => t.steps.delete.includes(name)))
        throw new Error(`a delete step named ${name} exists already`);
      deleteSteps.set(name, run);
    },
    view,
    stop: stopAll,
  };
}

/** Builds every registered target (in order) and the registry over them; stops those built if one fails. */
export async function startRuntimeTargets(
  factories: Readonly<Record<string, TargetFactory>>,
  deps: TargetDeps,
): Promise<RuntimeTargets> {
  const built = new Map<string, RuntimeTarget>();
  try {
    for (const [name, factory] of Object.entries(factories)) built.set(name, await factory(deps));
  } catch (error) {
    for (const t of [...built.values()].reverse()) await t.stop().catch(() => undefined);
    throw error;
  }
  return createRuntimeTargets(built, deps.store);
}
