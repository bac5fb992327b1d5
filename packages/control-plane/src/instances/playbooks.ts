/**
 * The instance playbooks as operations: create (config committed → provision → deploy → health → alerting),
 * upgrade (health → pre-upgrade backup → migrator → deploy → health → config bump; any failure rolls back
 * by itself in the same operation: previous release, and the pre-upgrade backup restored in place when the
 * migrator ran) and delete (final backup → config removed and committed → teardown). Every step is
 * idempotent: a control plane killed mid-playbook resumes at the step it died in.
 */
import { PreconditionFailedError, alertPoliciesFor, type DeploymentSpec, type Operation } from '@msp/core';
import { backupIdFor, takeBackup, type BackupDeps } from '../backups/backups.js';
import { runRestoreStep } from '../backups/restore-operation.js';
import { recordHealth } from '../deployments/health.js';
import type { OperationHandler, StepContext } from '../operations/engine.js';
import { inputOf } from '../operations/inputs.js';
import type { RuntimeTarget } from '../runtime-port.js';
import {
  CREATE_STEPS,
  CREATE_TAIL,
  DELETE_STEPS,
  UPGRADE_STEPS,
  UPGRADE_TAIL,
  createInput,
  deleteInput,
  upgradeInput,
  type UpgradeInput,
} from './inputs.js';
import {
  commitInstance,
  instanceSpecOf,
  parseInstanceKey,
  removeInstanceDir,
  updateInstanceFile,
  writeInstanceFile,
} from './repo-files.js';

export interface PlaybookDeps extends BackupDeps {
  repoDir: string;
  /** The migrator command from msp.yaml (`instances.migrator`), read when the step runs. */
  migrator(): Promise<readonly string[] | undefined>;
}

type Step = (ctx: StepContext, target: RuntimeTarget) => Promise<string | void>;

/** A string the operation's result holds, or `fallback`. */
const resultText = (op: Operation, name: string, fallback: string) => {
  const v = op.result?.[name];
  return typeof v === 'string' ? v : fallback;
};

const committed = (sha: string | undefined) =>
  sha ? `committed ${sha.slice(0, 10)}` : 'not committed: the platform repo is not a git work tree';

/** Healthy: every instance healthy (at least one) and the database answering. */
async function healthCheck(deps: PlaybookDeps, target: RuntimeTarget, key: string, version?: string) {
  const status = target.status(key);
  const instances = status?.instances ?? [];
  const bad = instances.filter((i) => i.state !== 'healthy');
  if (instances.length === 0 || bad.length > 0) {
    throw new PreconditionFailedError(
      `${key} is not healthy: ${instances.length === 0 ? 'no instance runs' : `${bad.length} of ${instances.length} instance(s) not healthy (${bad.map((b) => b.state).join(', ')})`}.`,
    );
  }
  if (version && instances.some((i) => i.release !== version)) {
    throw new PreconditionFailedError(
      `${key} runs ${[...new Set(instances.map((i) => i.release))].join(', ')}, not ${version}.`,
    );
  }
  if (await target.databases.describe(key)) await target.databases.check(key);
  await recordHealth(deps.store, target, key);
  return `${instances.length} instance(s) healthy on ${instances[0]?.release ?? '?'}${status?.database ? ', database answers' : ''}`;
}

/** Brings the row in line with the repo's config.yaml so the reconciler finds nothing to redo. */
export async function syncRow(deps: PlaybookDeps, key: string): Promise<void> {
  const found = await instanceSpecOf(deps.repoDir, key);
  if (!found) throw new PreconditionFailedError(`${key} is not declared in the platform repo.`);
  const { spec, hash } = found;
  await deps.store.upsertDeployment({
    key,
    kind: 'instance',
    service: spec.service.service.id,
    environment: spec.environment.id,
    instance: spec.instance!.id,
    spec,
    specHash: hash,
  });
  await deps.store.markApplied(key, hash);
}

function createSteps(deps: PlaybookDeps): Record<string, Step> {
  return {
    async config(ctx) {
      const op = ctx.operation;
      const input = inputOf(op, createInput);
      await writeInstanceFile(
        deps.repoDir,
        input.env,
        input.id,
        input.config,
        `Instance ${input.id} of ${String(input.config.customer)}, created by ${op.createdBy} with msp (operation ${op.id}).`,
      );
      const sha = await commitInstance(
        deps.repoDir,
        input.env,
        input.id,
        `instance ${input.env}/${input.id}: create for ${String(input.config.customer)} (${String(input.config.type)}, ${input.target.version})\n\nmsp operation ${op.id} by ${op.createdBy}`,
        op.createdBy,
      );
      return `environments/${input.env}/deployments/${input.id}/config.yaml; ${committed(sha)}`;
    },
    async provision(ctx) {
      const op = ctx.operation;
      const input = inputOf(op, createInput);
      await syncRow(deps, op.deploymentKey);
      await deps.store.setTargetRelease(op.deploymentKey, input.target);
      const row = await deps.store.requireDeployment(op.deploymentKey);
      const spec = row.spec as DeploymentSpec;
      const db = spec.environment.resources?.postgreSQL?.databases ?? [];
      const volumes = (spec.environment.resources?.volumes ?? []).map((v) => v.name);
      return `database ${db.join(', ') || 'none'}; volumes ${volumes.join(', ') || 'none'}; release ${input.target.version}`;
    },
    'health-check': async (ctx, target) => healthCheck(deps, target, ctx.operation.deploymentKey),
    async alerting(ctx) {
      const op = ctx.operation;
      const spec = (await deps.store.requireDeployment(op.deploymentKey)).spec as DeploymentSpec;
      const policies = alertPoliciesFor(spec.service, spec.environment);
      await deps.store.addEvent({
        deploymentKey: op.deploymentKey,
        kind: 'instance-created',
        message: `instance ${op.deploymentKey} created for ${spec.instance?.customer ?? '?'} on ${inputOf(op, createInput).target.version} by ${op.createdBy}`,
      });
      return `${policies.length} alert polic${policies.length === 1 ? 'y' : 'ies'} evaluated for it (${policies.map((p) => p.id).join(', ') || 'none'})`;
    },
  };
}

/** The first failed step of the forward part of an upgrade, if any. */
function failureOf(op: Operation): { step: string; detail: string } | undefined {
  const forward = new Set<string>(UPGRADE_TAIL.slice(2));
  const failed = op.steps.find((s) => s.status === 'failed' && !forward.has(s.name));
  return failed ? { step: failed.name, detail: failed.detail ?? 'failed' } : undefined;
}
const began = (op: Operation, step: string) =>
  op.steps.some((s) => s.name === step && s.status !== 'pending');
const skipped = (op: Operation) => `skipped: the upgrade failed at ${failureOf(op)?.step}`;
/** The migrator ran (or may have: it died in it), so the database may have changed. */
const touched = (op: Operation) =>
  began(op, 'migrate') && op.result?.migrated !== false && op.result?.migratorRan !== false;

function upgradeSteps(deps: PlaybookDeps): Record<string, Step> {
  const input = (op: Operation) => inputOf(op, upgradeInput) as UpgradeInput;
  return {
    'health-check': async (ctx, target) => {
      const key = ctx.operation.deploymentKey;
      // Resumed after a crash: the previous control plane's instances went with it; start them again.
      if (ctx.operation.attempt > 1 && !target.isRunning(key)) await target.workloads.start(key, ctx);
      return healthCheck(deps, target, key);
    },
    async 'pre-upgrade-backup'(ctx) {
      const op = ctx.operation;
      const taken = await takeBackup(deps, op.deploymentKey, {
        kind: 'pre-upgrade',
        reason: `before upgrading ${op.deploymentKey} from ${input(op).from} to ${input(op).to} (operation ${op.id})`,
        id: `${backupIdFor(op)}-pre-upgrade`,
        operationId: op.id,
        log: (m) => ctx.log(m),
      });
      ctx.setResult({ backupId: taken.backupId, snapshots: taken.snapshots });
      return [taken.backupId ?? 'no database', ...Object.values(taken.snapshots)].join(', ');
    },
    async migrate(ctx, target) {
      const op = ctx.operation;
      const command = await deps.migrator();
      if (!command) {
        ctx.setResult({ migratorRan: false });
        return 'no migrator declared (instances.migrator in msp.yaml)';
      }
      if (!target.workloads.runTask) {
        throw new PreconditionFailedError(
          `The ${target.name} runtime cannot run one-off tasks (the migrator).`,
        );
      }
      await ctx.log(`migrator: ${command.join(' ')} with ${input(op).to}'s code`);
      const r = await target.workloads.runTask(op.deploymentKey, { command, release: input(op).target }, ctx);
      for (const line of r.output.split('\n').filter(Boolean)) await ctx.log(`migrator: ${line}`);
      if (r.exitCode !== 0) {
        throw new PreconditionFailedError(
          `the migrator of ${input(op).to} exited ${r.exitCode ?? 'killed'} after ${r.durationMs} ms: ${r.output.split('\n').slice(-3).join(' / ')}`,
        );
      }
      ctx.setResult({ migratorRan: true });
      return `exit 0 in ${r.durationMs} ms${r.output ? `: ${r.output.split('\n').slice(-1)[0]}` : ''}`;
    },
    async release(ctx) {
      const op = ctx.operation;
      await deps.store.setTargetRelease(op.deploymentKey, input(op).target);
      return `target release ${input(op).to}`;
    },
    verify: async (ctx, target) =>
      healthCheck(deps, target, ctx.operation.deploymentKey, input(ctx.operation).to),
    async 'config-bump'(ctx) {
      const op = ctx.operation;
      const { env, id } = parseInstanceKey(op.deploymentKey);
      await updateInstanceFile(deps.repoDir, env, id, { version: input(op).to });
      const sha = await commitInstance(
        deps.repoDir,
        env,
        id,
        `instance ${env}/${id}: upgrade ${input(op).from} → ${input(op).to}\n\nmsp operation ${op.id} by ${op.createdBy}`,
        op.createdBy,
      );
      await syncRow(deps, op.deploymentKey);
      return `version: ${input(op).to}; ${committed(sha)}`;
    },
    async 'rollback-release'(ctx, target) {
      const op = ctx.operation;
      if (!failureOf(op)) return 'not needed';
      if (!began(op, 'release')) return `nothing to undo: ${input(op).from} kept serving`;
      await deps.store.setTargetRelease(op.deploymentKey, input(op).previous);
      if (touched(op)) return `target release back to ${input(op).from} (started after the data is restored)`;
      const detail = await target.workloads.start(op.deploymentKey, ctx);
      await recordHealth(deps.store, target, op.deploymentKey);
      return `${input(op).from} redeployed: ${detail}`;
    },
    async 'rollback-data'(ctx) {
      const op = ctx.operation;
      if (!failureOf(op)) return 'not needed';
      if (!touched(op)) return 'the database was not changed: the failure came before the migrator';
      const backupId = op.result?.backupId;
      if (typeof backupId !== 'string') return 'no database backup to restore (no database)';
      const snapshots = (op.result?.snapshots ?? {}) as Record<string, string>;
      // The backups feature's in-place restore, step by step, from the pre-upgrade backup; a safety backup
      // keeps what the half-migrated database held (writes since the pre-upgrade backup included).
      const restore: Operation = {
        ...op,
        input: { target: { kind: 'backup', backupId }, type: 'full', inPlace: true },
        result: { ...(op.result ?? {}), plan: { baseBackupId: backupId, snapshots } },
      };
      const rctx: StepContext = { ...ctx, operation: restore };
      const done: string[] = [];
      for (const step of [
        'safety-backup',
        'stop-workload',
        'stop-database',
        'restore-files',
        'recover',
        'restore-volumes',
        'start-workload',
        'cleanup',
      ]) {
        await ctx.log(`rollback: restore step ${step}`);
        done.push(`${step}: ${await runRestoreStep(deps, step, rctx)}`);
      }
      return `pre-upgrade backup ${backupId} restored in place (${Object.values(snapshots).join(', ') || 'no volumes'})`;
    },
    async 'rollback-check'(ctx, target) {
      const op = ctx.operation;
      if (!failureOf(op)) return 'not needed';
      if (!began(op, 'release') && !touched(op)) return 'nothing was changed';
      return healthCheck(deps, target, op.deploymentKey, input(op).from);
    },
    async outcome(ctx) {
      const op = ctx.operation;
      const { from, to } = input(op);
      const failure = failureOf(op);
      if (!failure) {
        await deps.store.addEvent({
          deploymentKey: op.deploymentKey,
          kind: 'instance-upgraded',
          message: `instance ${op.deploymentKey} upgraded from ${from} to ${to} by ${op.createdBy}`,
          data: { from, to, operation: op.id, ...(input(op).fleet ? { fleet: input(op).fleet } : {}) },
        });
        return `${from} → ${to}`;
      }
      const rollbackFailed = op.steps.find((s) => s.name.startsWith('rollback-') && s.status === 'failed');
      const how = rollbackFailed
        ? `the rollback failed too at ${rollbackFailed.name}: ${rollbackFailed.detail}; restore it by hand from backup ${resultText(op, 'backupId', '(none)')} with \`msp instance restore ${op.deploymentKey.slice('instance/'.length)} --backup <id> --in-place\``
        : !began(op, 'release') && !touched(op)
          ? `nothing was changed: ${from} stays`
          : `rolled back: ${from} serves again${touched(op) ? `, its data restored in place from pre-upgrade backup ${resultText(op, 'backupId', '?')}` : ', the database untouched'}`;
      const message = `upgrade of ${op.deploymentKey} from ${from} to ${to} failed at ${failure.step}: ${failure.detail.split('\n')[0]}; ${how}`;
      await deps.store.addEvent({
        deploymentKey: op.deploymentKey,
        kind: rollbackFailed ? 'instance-upgrade-failed' : 'instance-upgrade-rolled-back',
        message,
        data: {
          from,
          to,
          operation: op.id,
          failedStep: failure.step,
          ...(input(op).fleet ? { fleet: input(op).fleet } : {}),
        },
      });
      throw new PreconditionFailedError(message);
    },
  };
}

function deleteSteps(deps: PlaybookDeps): Record<string, Step> {
  return {
    async 'final-backup'(ctx, target) {
      const op = ctx.operation;
      if ((await target.databases.describe(op.deploymentKey)) && !target.isRunning(op.deploymentKey)) {
        await target.databases.ensure(op.deploymentKey);
      }
      const taken = await takeBackup(deps, op.deploymentKey, {
        kind: 'on-demand',
        reason: `final backup before deleting ${op.deploymentKey}${inputOf(op, deleteInput).expired ? ' (its TTL ran out)' : ''} (operation ${op.id})`,
        id: `${backupIdFor(op)}-final`,
        operationId: op.id,
        log: (m) => ctx.log(m),
      });
      ctx.setResult({ finalBackupId: taken.backupId, finalSnapshots: taken.snapshots });
      return `final backup ${[taken.backupId, ...Object.values(taken.snapshots)].filter(Boolean).join(', ')}`;
    },
    async config(ctx) {
      const op = ctx.operation;
      const { env, id } = parseInstanceKey(op.deploymentKey);
      await removeInstanceDir(deps.repoDir, env, id);
      const sha = await commitInstance(
        deps.repoDir,
        env,
        id,
        `instance ${env}/${id}: delete${inputOf(op, deleteInput).expired ? ' (TTL expired)' : ''}\n\nmsp operation ${op.id} by ${op.createdBy}; final backup ${resultText(op, 'finalBackupId', 'none')}`,
        op.createdBy,
      );
      return `config removed; ${committed(sha)}`;
    },
  };
}

/** The handlers: create and delete stop at a failure; upgrade runs its rollback steps after one. */
export function createInstanceHandlers(deps: PlaybookDeps): OperationHandler[] {
  const create = createSteps(deps);
  const upgrade = upgradeSteps(deps);
  const remove = deleteSteps(deps);
  const targetOf = (key: string) => deps.targets.of(key);
  /** Create runs before the row exists: its target is the one of the first environment's runtime. */
  const anyTarget = async (key: string) => {
    try {
      return await targetOf(key);
    } catch {
      return deps.targets.get(deps.targets.names[0]!)!;
    }
  };
  const plain: OperationHandler = {
    kinds: ['instance-create', 'instance-delete'],
    async steps(kind, _input, key) {
      const target = await anyTarget(key);
      return kind === 'instance-create'
        ? [...CREATE_STEPS, ...target.steps.deploy, ...CREATE_TAIL]
        : [...DELETE_STEPS, ...target.steps.delete];
    },
    async runStep(step, ctx) {
      const op = ctx.operation;
      const own = (op.kind === 'instance-create' ? create : remove)[step];
      const target = await anyTarget(op.deploymentKey);
      if (own) return own(ctx, target);
      // The target's own deploy (create) or delete steps, run as its deploy or delete.
      const kind = op.kind === 'instance-create' ? 'deploy' : 'delete';
      return target.runStep(step, { ...ctx, operation: { ...op, kind } });
    },
    async onFinished(op) {
      if (op.kind === 'instance-delete' && op.status === 'succeeded') {
        await deps.store.addEvent({
          deploymentKey: op.deploymentKey,
          kind: 'instance-deleted',
          message: `instance ${op.deploymentKey} deleted by ${op.createdBy}; final backup ${resultText(op, 'finalBackupId', 'none')}`,
          data: { operation: op.id, finalBackupId: op.result?.finalBackupId ?? null },
        });
      }
    },
  };
  const upgrader: OperationHandler = {
    kinds: ['instance-upgrade'],
    continueAfterFailure: true,
    async steps(_kind, _input, key) {
      return [...UPGRADE_STEPS, ...(await targetOf(key)).steps.deploy, ...UPGRADE_TAIL];
    },
    async runStep(step, ctx) {
      const op = ctx.operation;
      const target = await targetOf(op.deploymentKey);
      const rollback = step.startsWith('rollback-') || step === 'outcome';
      if (!rollback && failureOf(op)) return skipped(op);
      const own = upgrade[step];
      if (own) return own(ctx, target);
      return target.runStep(step, { ...ctx, operation: { ...op, kind: 'deploy' } });
    },
  };
  return [plain, upgrader];
}
