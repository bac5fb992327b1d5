/**
 * Everything in the local runtime that differs between operating systems, behind one interface: facts
 * about processes (state, process group, start time, working directory, command line), the system users
 * MSP switches to when it runs as root, and the longest Unix socket path. Linux reads /proc and uses
 * getent/useradd; macOS asks `ps`, `lsof` and `id`, and creates no users (run MSP as your own user there,
 * or create the users first). Signals to process groups, file modes and ports are POSIX and the same on
 * both. Other platforms (Windows) get one line saying what to do. Tests build the platform of any OS with
 * fake readers and command runners (`platformFor`), so each branch runs without the foreign commands.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { PreconditionFailedError } from '@msp/core';

/** What the runtime needs to know about a live (or zombie) process. */
export interface ProcessFacts {
  readonly pid: number;
  /** One letter: R running, S sleeping, Z zombie, ... (the same letters on Linux and macOS). */
  readonly state: string;
  readonly pgrp: number;
  /** When the process started, in the platform's own terms: compared only for equality (pid reuse). */
  readonly startTime: string;
}

/** CPU and memory a process used (alerting's container signals). */
export interface ProcessUsage {
  /** User plus system CPU time since it started, in seconds. */
  readonly cpuSeconds: number;
  /** Resident set size in bytes. */
  readonly rssBytes: number;
}

/** A system user's ids. */
export interface SystemUserIds {
  readonly uid: number;
  readonly gid: number;
}

export interface Platform {
  readonly os: NodeJS.Platform;
  /** The longest path of a Unix socket (sun_path less its NUL): longer ones fall back to TCP only. */
  readonly maxSocketPath: number;
  /** True when MSP runs as root and must switch users for PostgreSQL and service instances. */
  runsAsRoot(): boolean;
  /**
   * One process's facts; undefined when the process does not exist. Asynchronous on every platform (macOS
   * asks `ps`): nothing in a request or step handler waits on a synchronous child process.
   */
  processFacts(pid: number): Promise<ProcessFacts | undefined>;
  /** Every process's facts (to find the members of a process group whose leader may be gone). */
  allProcesses(): Promise<ProcessFacts[]>;
  /** A process's working directory; undefined when unknown. */
  processCwd(pid: number): Promise<string | undefined>;
  /** A process's command line (arguments joined by spaces); undefined when unknown. */
  processCommand(pid: number): Promise<string | undefined>;
  /** CPU time and resident memory of each live process of `pids` (gone ones are left out). */
  processUsage(pids: readonly number[]): Promise<Map<number, ProcessUsage>>;
  /** The ids of a user; undefined when there is no such user. */
  lookupUser(name: string): Promise<SystemUserIds | undefined>;
  /** Creates a system user without login; a PreconditionFailedError saying what to do when it cannot. */
  createSystemUser(name: string, why: string): Promise<void>;
}

/** What a platform reads and runs; the real ones by default, fakes in tests. */
export interface PlatformIo {
  uid(): number | undefined;
  readFile(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
  readlink(path: string): Promise<string>;
  /** Runs a program; rejects when it cannot start or exits non-zero. */
  run(command: string, args: string[]): Promise<string>;
}

const realIo: PlatformIo = {
  uid: () => process.getuid?.(),
  readFile: (path) => readFile(path, 'utf8'),
  readdir: (path) => readdir(path),
  readlink: (path) => readlink(path),
  run: async (command, args) => (await promisify(execFile)(command, args, { timeout: 10_000 })).stdout,
};

/** The platform MSP runs on. */
export function currentPlatform(): Platform {
  current ??= platformFor(process.platform);
  return current;
}
let current: Platform | undefined;

/** The platform of `os`, reading and running through `io`. */
export function platformFor(os: NodeJS.Platform, io: PlatformIo = realIo): Platform {
  if (os === 'linux') return linux(io);
  if (os === 'darwin') return darwin(io);
  return unsupported(os, io);
}

function linux(io: PlatformIo): Platform {
  const facts = async (pid: number): Promise<ProcessFacts | undefined> => {
    // Gone (or gone between readdir and read): undefined.
    const text = await io.readFile(`/proc/${pid}/stat`).catch(() => undefined);
    if (text === undefined) return undefined;
    // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // Field 22 (startTime): clock ticks since boot when the process started.
    return { pid, state: rest[0] ?? '?', pgrp: Number(rest[2]), startTime: rest[19] ?? '' };
  };
  return {
    os: 'linux',
    maxSocketPath: 107,
    runsAsRoot: () => io.uid() === 0,
    processFacts: facts,
    allProcesses: async () => {
      const names = await io.readdir('/proc').catch(() => []);
      const all = await Promise.all(
        names.filter((name) => /^\d+$/.test(name)).map((name) => facts(Number(name))),
      );
      return all.flatMap((f) => f ?? []);
    },
    processCwd: async (pid) => io.readlink(`/proc/${pid}/cwd`).catch(() => undefined),
    processUsage: async (pids) => {
      const usage = new Map<number, ProcessUsage>();
      for (const pid of pids) {
        const text = await io.readFile(`/proc/${pid}/stat`).catch(() => undefined);
        if (text === undefined) continue;
        // Fields 14 and 15 (utime, stime) in clock ticks (USER_HZ, 100 on every Linux MSP runs on);
        // field 24 (rss) in pages of 4 KiB.
        const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
        const ticks = Number(rest[11]) + Number(rest[12]);
        usage.set(pid, { cpuSeconds: ticks / 100, rssBytes: Number(rest[21]) * 4096 });
      }
      return usage;
    },
    processCommand: async (pid) =>
      io.readFile(`/proc/${pid}/cmdline`).then(
        (text) => text.split('\0').filter(Boolean).join(' '),
        () => undefined,
      ),
    lookupUser: async (name) => {
      // getent exits 2 when the user does not exist.
      const line = await io.run('getent', ['passwd', name]).catch(() => undefined);
      const fields = line?.trim().split(':') ?? [];
      return ids(fields[2], fields[3]);
    },
    createSystemUser: async (name, why) => {
      const command = ['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name];
      await io.run(command[0]!, command.slice(1)).catch((cause: unknown) => {
        throw new PreconditionFailedError(
          `${why} and the system user ${name} could not be created: create it with \`${command.join(' ')}\`, ` +
            'or run MSP as an ordinary user.',
          { cause },
        );
      });
    },
  };
}

function darwin(io: PlatformIo): Platform {
  const columns = ['-o', 'pid=,pgid=,stat=,lstart='];
  const parse = (line: string): ProcessFacts | undefined => {
    // `  812   812 Ss   Tue Dec  1 23:31:46 2026`: lstart (to the second) tells a recycled pid apart.
    const m = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.+?)\s*$/.exec(line);
    if (!m) return undefined;
    return { pid: Number(m[1]), pgrp: Number(m[2]), state: m[3]!.charAt(0), startTime: m[4]! };
  };
  return {
    os: 'darwin',
    maxSocketPath: 103,
    runsAsRoot: () => io.uid() === 0,
    // ps exits 1 when the pid does not exist.
    processFacts: async (pid) => parse(await io.run('ps', [...columns, '-p', String(pid)]).catch(() => '')),
    allProcesses: async () =>
      (await io.run('ps', ['-A', ...columns]).catch(() => '')).split('\n').flatMap((l) => parse(l) ?? []),
    processCwd: async (pid) => {
      const out = await io.run('lsof', ['-a', '-p', String(pid), '-d', 'cwd', '-Fn']).catch(() => '');
      return /^n(.+)$/m.exec(out)?.[1];
    },
    processUsage: async (pids) => {
      const usage = new Map<number, ProcessUsage>();
      if (pids.length === 0) return usage;
      const out = await io.run('ps', ['-o', 'pid=,time=,rss=', '-p', pids.join(',')]).catch(() => '');
      for (const line of out.split('\n')) {
        // `  812   0:01.23  10240`: cpu time as [[hh:]mm:]ss.cc, rss in KiB.
        const m = /^\s*(\d+)\s+([\d:.]+)\s+(\d+)\s*$/.exec(line);
        if (!m) continue;
        const cpuSeconds = m[2]!.split(':').reduce((sum, part) => sum * 60 + Number(part), 0);
        usage.set(Number(m[1]), { cpuSeconds, rssBytes: Number(m[3]) * 1024 });
      }
      return usage;
    },
    processCommand: async (pid) =>
      io.run('ps', ['-ww', '-o', 'command=', '-p', String(pid)]).then(
        (out) => out.trim() || undefined,
        () => undefined,
      ),
    lookupUser: async (name) => {
      const [uid, gid] = await Promise.all([
        io.run('id', ['-u', name]).catch(() => undefined),
        io.run('id', ['-g', name]).catch(() => undefined),
      ]);
      return ids(uid?.trim(), gid?.trim());
    },
    createSystemUser: (name, why) =>
      Promise.reject(
        new PreconditionFailedError(
          `${why} and MSP does not create users on macOS: run MSP as your own user (without sudo), and ` +
            `PostgreSQL and services run as you; or create the user ${name} yourself first.`,
        ),
      ),
  };
}

function unsupported(os: NodeJS.Platform, io: PlatformIo): Platform {
  const refuse = (): Promise<never> =>
    Promise.reject(
      new PreconditionFailedError(
        `MSP's local runtime runs on Linux and macOS, not on ${os} (it needs POSIX process groups and ` +
          'signals): on Windows, run MSP inside WSL 2.',
      ),
    );
  return {
    os,
    maxSocketPath: 107,
    runsAsRoot: () => io.uid() === 0,
    processFacts: refuse,
    allProcesses: refuse,
    processCwd: refuse,
    processCommand: refuse,
    processUsage: refuse,
    lookupUser: refuse,
    createSystemUser: refuse,
  };
}

function ids(uid: string | undefined, gid: string | undefined): SystemUserIds | undefined {
  if (!uid || !gid || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) return undefined;
  return { uid: Number(uid), gid: Number(gid) };
}
