/**
 * Pid files and the stale-instance reaper. Instances run detached in their own process group, so they
 * outlive a control plane killed with SIGKILL. Each spawn records `<logDir>/<instance>.pid` with the pid and
 * its kernel start time; a restarted control plane calls `reapStaleInstances(logDir)` before starting
 * anything, and so never runs an instance twice. The start time guards against a recycled pid.
 *
 * The record is written at once after the spawn, without the start time (asking for it is asynchronous:
 * `ps` on macOS), and rewritten with it as soon as it is known. A record still without one (the control
 * plane died in between) identifies its process by its command line instead: the reaper kills the group
 * only when the live leader is a group leader running the recorded command; anything else is left alone.
 */
import { readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { currentPlatform, type ProcessFacts } from '../platform.js';

/** A process's state, group and start time (see platform.ts); the name predates macOS support. */
export type ProcStat = ProcessFacts;

/** A process's facts (/proc on Linux, `ps` on macOS); undefined when the process does not exist. */
export function readProcStat(pid: number): Promise<ProcStat | undefined> {
  return currentPlatform().processFacts(pid);
}

/** Alive means it exists and is not a zombie waiting for a parent (PID 1 here may never reap it). */
export async function isProcessAlive(pid: number): Promise<boolean> {
  const stat = await readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** Live members of a process group, found among all processes (the leader may already be gone). */
export async function processGroupMembers(pgid: number): Promise<number[]> {
  return (await currentPlatform().allProcesses())
    .filter((p) => p.pgrp === pgid && p.state !== 'Z' && p.state !== 'X')
    .map((p) => p.pid);
}

/** Signals a whole process group; false when it no longer exists. */
export function signalProcessGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export interface PidRecord {
  readonly id: string;
  readonly deployment: string;
  readonly pid: number;
  /** The process's start time (see ProcessFacts); '' until it is known. */
  readonly startTime: string;
  readonly spawnedAt: string;
  /** The command line as spawned (arguments joined by spaces): identifies a process without a start time. */
  readonly command?: string;
}

/** A file name for an instance id such as `releaseregistry/dev#1`. */
export function instanceFileName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]+/g, '_');
}

export function pidFilePath(logDir: string, id: string): string {
  return join(logDir, `${instanceFileName(id)}.pid`);
}

export function writePidFile(logDir: string, record: PidRecord): void {
  mkdirSync(logDir, { recursive: true });
  const path = pidFilePath(logDir, record.id);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * Records a process just spawned as the leader of its own group: the record at once (a control plane
 * killed right now must find and reap the orphan), completed with the start time, which guards the reaper
 * against a recycled pid, once it is known, unless the process has `exited()` by then (its pid may
 * already be another's). Without a start time the record identifies the process by its command line.
 */
export function recordSpawn(
  logDir: string,
  record: Omit<PidRecord, 'startTime'>,
  exited: () => boolean,
): void {
  writePidFile(logDir, { ...record, startTime: '' });
  void readProcStat(record.pid).then(
    (facts) => {
      // Facts of another group are not this leader's.
      if (exited() || facts === undefined || facts.pgrp !== record.pid) return;
      writePidFile(logDir, { ...record, startTime: facts.startTime });
    },
    () => undefined,
  );
}

export function removePidFile(logDir: string, id: string, pid: number): void {
  const path = pidFilePath(logDir, id);
  // Only remove our own record: a newer spawn of the same instance may have replaced it.
  const record = readPidFile(path);
  if (record === undefined || record.pid === pid) rmSync(path, { force: true });
}

function readPidFile(path: string): PidRecord | undefined {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as Partial<PidRecord>;
    if (
      typeof value.pid !== 'number' ||
      typeof value.startTime !== 'string' ||
      typeof value.id !== 'string'
    ) {
      return undefined;
    }
    return {
      id: value.id,
      deployment: value.deployment ?? '',
      pid: value.pid,
      startTime: value.startTime,
      spawnedAt: value.spawnedAt ?? '',
      ...(typeof value.command === 'string' ? { command: value.command } : {}),
    };
  } catch {
    return undefined;
  }
}

export interface ReapedInstance {
  readonly id: string;
  readonly pid: number;
  /** Members of its process group that were still alive and got killed. */
  readonly killed: number[];
}

/**
 * Kills the process groups of instances left behind by an earlier control plane and removes their pid files.
 * A pid file whose leader is gone still has its group members (grandchildren) killed, identified by
 * process group id: POSIX never reuses a pid while a process group with that id exists.
 * Call it before the supervisor starts anything.
 */
export async function reapStaleInstances(
  logDir: string,
  options: { graceMs?: number; pollMs?: number } = {},
): Promise<ReapedInstance[]> {
  const graceMs = options.graceMs ?? 3000;
  const pollMs = options.pollMs ?? 25;
  let names: string[];
  try {
    names = readdirSync(logDir);
  } catch {
    return [];
  }
  const reaped: ReapedInstance[] = [];
  for (const name of names) {
    if (!name.endsWith('.pid')) continue;
    const path = join(logDir, name);
    const record = readPidFile(path);
    if (record === undefined) {
      rmSync(path, { force: true });
      continue;
    }
    const leader = await readProcStat(record.pid);
    // A live leader with another start time (or, without one recorded, another command line) is an
    // unrelated process that got the pid: leave it alone.
    const ours = leader === undefined || (await leaderIsOurs(record, leader));
    const members = ours ? await processGroupMembers(record.pid) : [];
    if (members.length > 0) {
      signalProcessGroup(record.pid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while ((await processGroupMembers(record.pid)).length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
      signalProcessGroup(record.pid, 'SIGKILL');
      reaped.push({ id: record.id, pid: record.pid, killed: members });
    }
    rmSync(path, { force: true });
  }
  return reaped;
}

/**
 * True when the live process `leader` is the one `record` was written for. With a start time recorded, they
 * must be equal. Without one (the control plane died between the spawn and learning it), the leader must
 * lead its own process group (instances are spawned detached) and run the recorded command: a recycled pid
 * that is not a group leader has no group to kill, and one that is would have to run the same command line.
 */
async function leaderIsOurs(record: PidRecord, leader: ProcStat): Promise<boolean> {
  if (record.startTime !== '') return leader.startTime === record.startTime;
  if (record.command === undefined || leader.pgrp !== record.pid) return false;
  return (await currentPlatform().processCommand(record.pid)) === record.command;
}
