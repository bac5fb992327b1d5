/**
 * Pid files and the stale-instance reaper. Instances run detached in their own process group, so they
 * outlive a control plane killed with SIGKILL. Each spawn records `<logDir>/<instance>.pid` with the pid and
 * its kernel start time; a restarted control plane calls `reapStaleInstances(logDir)` before starting
 * anything, and so never runs an instance twice. The start time guards against a recycled pid.
 */
import { readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { currentPlatform, type ProcessFacts } from '../platform.js';

/** A process's state, group and start time (see platform.ts); the name predates macOS support. */
export type ProcStat = ProcessFacts;

/** A process's facts (/proc on Linux, `ps` on macOS); undefined when the process does not exist. */
export function readProcStat(pid: number): ProcStat | undefined {
  return currentPlatform().processFacts(pid);
}

/** Alive means it exists and is not a zombie waiting for a parent (PID 1 here may never reap it). */
export function isProcessAlive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** Live members of a process group, found among all processes (the leader may already be gone). */
export function processGroupMembers(pgid: number): number[] {
  return currentPlatform()
    .allProcesses()
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
  readonly startTime: string;
  readonly spawnedAt: string;
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
    const leader = readProcStat(record.pid);
    const leaderIsOurs = leader !== undefined && leader.startTime === record.startTime;
    // A live leader with another start time is an unrelated process that got the pid: leave it alone.
    const members = leader === undefined || leaderIsOurs ? processGroupMembers(record.pid) : [];
    if (members.length > 0) {
      signalProcessGroup(record.pid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (processGroupMembers(record.pid).length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
      signalProcessGroup(record.pid, 'SIGKILL');
      reaped.push({ id: record.id, pid: record.pid, killed: members });
    }
    rmSync(path, { force: true });
  }
  return reaped;
}
