/**
 * One-off tasks on the local runtime (an upgrade's migrator): a process run to its end in the code folder
 * of a release, with the environment the deployment's instances get, as the user instances run as. A task
 * leads its own process group and has a pid file beside the instances', so a control plane that restarts
 * after a crash stops a task its predecessor left running before the resumed step runs it again: two
 * migrators never run at once.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { PreconditionFailedError, type DeploymentSpec } from '@msp/core';
import { findNodeModules, recordSpawn, removePidFile, signalProcessGroup } from '@msp/runtime-local';
import type { StepContext } from '../../operations/engine.js';
import type { TaskRequest, TaskResult } from '../../runtime-port.js';
import { clusterFor, type LocalContext } from './context.js';
import { ensureHomeDir, ensureVolumeDirs } from './volumes.js';
import { instanceEnv } from './workload.js';

const TAIL_LINES = 40;

export async function runTask(
  c: LocalContext,
  key: string,
  task: TaskRequest,
  ctx: StepContext,
): Promise<TaskResult> {
  const row = await c.store.requireDeployment(key);
  const spec = row.spec as DeploymentSpec;
  const local = spec.service.build?.local;
  if (!local) {
    throw new PreconditionFailedError(
      `Service ${spec.service.service.id} has no build.local: the local runtime cannot run its tasks.`,
    );
  }
  const release = task.release === undefined ? row.targetRelease : task.release;
  const workingTree = resolve(spec.serviceDir, local.dir);
  const digest = release?.artifact?.digest;
  let codeDir = workingTree;
  if (digest) {
    const nodeModules = findNodeModules(workingTree) ?? c.ownNodeModules;
    codeDir = await c.artifacts.extract(digest, {
      ...(nodeModules ? { nodeModules } : {}),
      ...(c.serviceUser.switchUser ? { readableByGroup: c.serviceUser.gid } : {}),
    });
  } else if (!existsSync(codeDir)) {
    throw new PreconditionFailedError(
      `build.local.dir of ${spec.service.service.id} does not exist: ${codeDir}`,
    );
  }
  const cluster = await clusterFor(c, row, spec);
  if (cluster) await cluster.ensure();
  await ensureVolumeDirs(
    c,
    key,
    (spec.environment.resources?.volumes ?? []).map((v) => v.name),
  );
  await ensureHomeDir(c, key);
  const version = release?.version ?? row.release ?? 'working-tree';
  const env = { ...(await instanceEnv(c, row, spec, version)), MSP_TASK: 'true', ...(task.env ?? {}) };
  const [first, ...args] = task.command;
  if (!first) throw new PreconditionFailedError('A task needs a command.');
  const command = first === 'node' ? process.execPath : first;
  const started = Date.now();
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(line);
    if (lines.length > TAIL_LINES) lines.splice(0, lines.length - TAIL_LINES);
  };
  await ctx.log(
    `task: ${task.command.join(' ')} (${version}${digest ? `, artifact ${digest.slice(0, 19)}…` : ''})`,
  );
  const exitCode = await new Promise<number | null>((done, fail) => {
    const child = spawn(command, args, {
      cwd: codeDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      ...(c.serviceUser.switchUser ? { uid: c.serviceUser.uid, gid: c.serviceUser.gid } : {}),
    });
    const pid = child.pid;
    const id = `${key}#task`;
    if (pid !== undefined) {
      recordSpawn(
        c.dataDir.logs,
        {
          id,
          deployment: key,
          pid,
          spawnedAt: new Date().toISOString(),
          command: [command, ...args].join(' '),
        },
        () => child.exitCode !== null || child.signalCode !== null,
      );
    }
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    // The whole group: a task's own children (a migrator's) go with it.
    const kill = () => {
      if (pid === undefined || !signalProcessGroup(pid, 'SIGKILL')) child.kill('SIGKILL');
    };
    const timer = setTimeout(kill, task.timeoutMs ?? 600_000);
    ctx.signal.addEventListener('abort', kill, { once: true });
    child.once('error', (e) => {
      clearTimeout(timer);
      fail(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (pid !== undefined) {
        signalProcessGroup(pid, 'SIGKILL'); // nothing it started outlives it
        removePidFile(c.dataDir.logs, id, pid);
      }
      ctx.signal.removeEventListener('abort', kill);
      done(code);
    });
  });
  ctx.signal.throwIfAborted();
  return { exitCode, output: lines.join('\n'), durationMs: Date.now() - started };
}
