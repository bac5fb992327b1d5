/** The work of `msp backup …` and `msp restore`, loaded only when they run. */
import { ConflictError, cloneNameProblem, type Operation } from '@msp/core';
import { CliError, printJson } from '../cli-support.js';
import { call, connect, segment, type ControlPlaneClient } from '../client.js';
import { resolveKey } from '../deployment-key.js';
import type { BackupCommonOptions, BackupCreateOptions, RestoreOptions } from './backup.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function age(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}
const size = (b: number | null) =>
  b === null ? '' : b > 1024 * 1024 ? `${(b / 1024 / 1024).toFixed(1)} MB` : `${(b / 1024).toFixed(1)} kB`;

/** Polls the operation, printing each step as it finishes; exit 1 when it failed. */
async function follow(client: ControlPlaneClient, id: string, json: boolean | undefined): Promise<Operation> {
  const printed = new Set<string>();
  for (;;) {
    const op = await call(client.api.operations[':id'].$get({ param: { id: segment(id) } }));
    if (!json) {
      for (const s of op.steps) {
        if (
          (s.status === 'succeeded' || s.status === 'failed' || s.status === 'skipped') &&
          !printed.has(s.name)
        ) {
          printed.add(s.name);
          process.stderr.write(
            `  ${s.status === 'succeeded' ? '✓' : s.status === 'failed' ? '✗' : '-'} ${s.name}${s.detail ? `: ${s.detail}` : ''}\n`,
          );
        }
      }
    }
    if (op.status === 'succeeded' || op.status === 'failed') {
      if (json) printJson(op);
      if (op.status === 'failed')
        throw new CliError(`${op.kind} failed: ${op.error ?? 'see `msp operations show ' + op.id + '`'}`, 1);
      return op;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The operation a 409 says is in the way (`details.operation`), if it says. */
function blockerOf(error: unknown): { id: string; kind: string; runningForSeconds: number } | undefined {
  if (!(error instanceof ConflictError)) return undefined;
  const op = error.details?.operation as
    { id?: unknown; kind?: unknown; runningForSeconds?: unknown } | undefined;
  return typeof op?.id === 'string'
    ? { id: op.id, kind: String(op.kind), runningForSeconds: Number(op.runningForSeconds) || 0 }
    : undefined;
}

/** Waits for an operation to finish (whatever its outcome), saying every 15 s that it still runs. */
async function waitOut(client: ControlPlaneClient, id: string, quiet: boolean): Promise<void> {
  let said = Date.now();
  for (;;) {
    const op = await call(client.api.operations[':id'].$get({ param: { id: segment(id) } }));
    if (op.status !== 'queued' && op.status !== 'running') {
      if (!quiet) process.stderr.write(`  ${op.kind} operation ${op.id} ${op.status}; starting the backup\n`);
      return;
    }
    if (!quiet && Date.now() - said >= 15_000) {
      said = Date.now();
      const current = op.steps.find((s) => s.status === 'running')?.name;
      process.stderr.write(
        `  still waiting: ${op.kind} ${op.status}${current ? ` (step ${current})` : ''}\n`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function backupCreate(
  target: string,
  env: string | undefined,
  opts: BackupCreateOptions,
): Promise<void> {
  const client = connect(opts);
  const key = await resolveKey(client, target, env);
  let op: Operation;
  for (;;) {
    try {
      op = await call(
        client.api.backups.$post({
          json: { deployment: key, ...(opts.reason ? { reason: opts.reason } : {}) },
        }),
      );
      break;
    } catch (error) {
      const blocker = blockerOf(error);
      if (!opts.wait || !blocker) throw error;
      if (!opts.json) {
        process.stderr.write(
          `${key} is busy: ${blocker.kind} operation ${blocker.id} has run for ${blocker.runningForSeconds} s; waiting for it to finish\n`,
        );
      }
      await waitOut(client, blocker.id, opts.json ?? false);
    }
  }
  if (!opts.json) process.stderr.write(`backup of ${key}: operation ${op.id}\n`);
  const done = await follow(client, op.id, opts.json);
  if (opts.json) return;
  const id = typeof done.result?.backupId === 'string' ? done.result.backupId : undefined;
  const snapshots = Object.values((done.result?.snapshots ?? {}) as Record<string, string>);
  if (id) console.log(`backup ${id} taken and verified`);
  else
    console.log(
      `volume snapshots ${snapshots.join(', ') || '(none)'} taken and verified; ${key} declares no database`,
    );
}

export async function backupList(
  target: string,
  env: string | undefined,
  opts: BackupCommonOptions,
): Promise<void> {
  const client = connect(opts);
  const key = await resolveKey(client, target, env);
  const view = await call(client.api.backups.$get({ query: { deployment: key } }));
  if (opts.json) return printJson(view);
  console.log(`backups of ${key}`);
  console.log(
    `recoverable window: ${view.window ? `${view.window.from} → ${view.window.to}` : 'none (no good base backup with an unbroken WAL chain)'}`,
  );
  console.log(
    `last good base backup: ${view.lastGoodBaseBackup ? `${view.lastGoodBaseBackup.id}, ${age(view.lastGoodBaseBackup.ageSeconds)} ago` : 'none'}`,
  );
  console.log(
    `last archived WAL: ${view.lastArchivedWal ? `${view.lastArchivedWal.name}, ${age(view.lastArchivedWal.ageSeconds)} ago` : 'none'}`,
  );
  if (view.archiver && (view.archiver.failedCount > 0 || view.archiver.pending > 1)) {
    console.log(
      `WAL archiving: ${view.archiver.pending} segment(s) waiting, ${view.archiver.failedCount} failure(s)` +
        (view.archiver.lastFailedWal
          ? `, last ${view.archiver.lastFailedWal} at ${view.archiver.lastFailedTime}`
          : ''),
    );
  }
  const drill = view.drills[0];
  if (drill)
    console.log(
      `last restore drill: ${drill.startedAt} ${drill.ok ? 'passed' : drill.ok === false ? 'FAILED' : 'running'}`,
    );
  const rows = [['ID', 'TYPE', 'KIND', 'STATUS', 'STARTED', 'FINISHED', 'SIZE']];
  for (const b of view.backups) {
    rows.push([
      b.id,
      b.type === 'volume' ? `volume:${b.volume ?? ''}` : 'base',
      b.kind,
      b.verifyOk === false ? 'corrupt' : b.status,
      b.startedAt,
      b.finishedAt ?? '',
      size(b.storedBytes),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log('');
  for (const r of rows)
    console.log(
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
}

export async function backupVerify(id: string, opts: BackupCommonOptions): Promise<void> {
  const client = connect(opts);
  const op = await call(client.api.backups[':id'].verify.$post({ param: { id: segment(id) } }));
  const done = await follow(client, op.id, opts.json);
  if (!opts.json) console.log(done.steps[0]?.detail ?? 'verified');
}

export async function backupDelete(id: string, opts: BackupCommonOptions): Promise<void> {
  const client = connect(opts);
  const op = await call(client.api.backups[':id'].delete.$post({ param: { id: segment(id) } }));
  const done = await follow(client, op.id, opts.json);
  if (!opts.json) console.log(done.steps[0]?.detail ?? 'deleted');
}

export async function restore(target: string, env: string | undefined, opts: RestoreOptions): Promise<void> {
  const targets = [opts.to !== undefined, opts.backup !== undefined, opts.latest === true].filter(
    Boolean,
  ).length;
  if (targets !== 1)
    throw new CliError('Give exactly one of --to <RFC 3339 time>, --backup <id> or --latest.', 2);
  if (!opts.into === !opts.inPlace)
    throw new CliError('Give one of --into <new deployment name> or --in-place.', 2);
  if (opts.delta && !opts.inPlace) throw new CliError('--delta works with --in-place only.', 2);
  const intoProblem = opts.into === undefined ? undefined : cloneNameProblem(opts.into);
  if (intoProblem) throw new CliError(`--into: ${intoProblem}.`, 2);
  if (opts.to !== undefined && (!RFC3339.test(opts.to) || Number.isNaN(Date.parse(opts.to)))) {
    throw new CliError(
      `--to ${JSON.stringify(opts.to)} is not an RFC 3339 time: use the form 2026-01-01T12:00:00Z.`,
      2,
    );
  }
  if (!/^(full|database|volume:[a-z0-9][a-z0-9_-]*)$/.test(opts.type)) {
    throw new CliError(`--type ${opts.type}: use full, database or volume:<name>.`, 2);
  }
  const client = connect(opts);
  const key = await resolveKey(client, target, env);
  const op = await call(
    client.api.restores.$post({
      json: {
        deployment: key,
        ...(opts.to !== undefined ? { to: opts.to } : {}),
        ...(opts.backup !== undefined ? { backup: opts.backup } : {}),
        ...(opts.latest ? { latest: true } : {}),
        type: opts.type,
        ...(opts.into ? { into: opts.into } : { inPlace: true, ...(opts.delta ? { delta: true } : {}) }),
      },
    }),
  );
  if (!opts.json) {
    process.stderr.write(
      `restore of ${key} ${opts.into ? `into ${opts.into}` : 'in place'}: operation ${op.id}${op.plan?.baseBackupId ? ` from ${op.plan.baseBackupId}` : ''}\n`,
    );
  }
  const done = await follow(client, op.id, opts.json);
  if (!opts.json)
    console.log(
      `restored${typeof done.result?.cloneKey === 'string' ? ` into ${done.result.cloneKey}` : ' in place'}`,
    );
}
