/**
 * The process supervisor: runs workload instances as child processes with the runtime contract, probes
 * them, restarts them with backoff, and reports the ones that cannot start as precondition failed.
 * The life cycle itself is the pure machine in instance-state.ts; this file performs its effects, and
 * spawn.ts starts the process itself (its environment, process group and stderr tail).
 *
 * Each child runs in its own process group (`detached`), killed as a group so grandchildren die too.
 * A pid file per instance lets a restarted control plane reap what an earlier one left running.
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { ConflictError, NotFoundError } from '@msp/core';
import { createLogWriter, instanceLogPath, type LogWriter } from '../logs/log-writer.js';
import {
  defaultRestartPolicy,
  initialMachine,
  transition,
  type InstanceEvent,
  type InstanceMachine,
  type InstanceState,
  type RestartPolicy,
} from './instance-state.js';
import { recordSpawn, removePidFile, signalProcessGroup } from './pid-files.js';
import { probeHttp } from './probe.js';
import { StderrTail, redactionsOf, spawnFailure, spawnInstance } from './spawn.js';
import {
  type InstanceSpec,
  type InstanceStatus,
  type StopOptions,
  type Supervisor,
  type SupervisorEvents,
  type SupervisorOptions,
} from './supervisor-contract.js';

export * from './supervisor-contract.js';

interface Instance {
  readonly spec: InstanceSpec;
  machine: InstanceMachine;
  child: ChildProcess | undefined;
  pid: number | undefined;
  generation: number;
  readonly timers: Set<NodeJS.Timeout>;
  readonly writer: LogWriter;
  stderr: StderrTail;
  drainMs: number;
  readonly stopped: Promise<void>;
  resolveStopped: () => void;
}

class ProcessSupervisor extends EventEmitter<SupervisorEvents> implements Supervisor {
  private readonly instances = new Map<string, Instance>();
  private readonly now: () => number;
  private readonly policy: Omit<RestartPolicy, 'failureThreshold'>;
  private readonly killGraceMs: number;
  private exitHookInstalled = false;
  private readonly exitHook = (): void => {
    // Last resort when the control plane exits without stopAll (e.g. an uncaught error): no orphans.
    for (const inst of this.instances.values())
      if (inst.pid !== undefined) signalProcessGroup(inst.pid, 'SIGKILL');
  };

  constructor(private readonly options: SupervisorOptions) {
    super();
    this.now = options.now ?? Date.now;
    this.policy = { ...defaultRestartPolicy, ...options.restartPolicy };
    this.killGraceMs = options.killGraceMs ?? 2000;
  }

  start(spec: InstanceSpec): InstanceStatus {
    const existing = this.instances.get(spec.id);
    if (existing !== undefined && existing.machine.state.kind !== 'precondition_failed') {
      throw new ConflictError(
        `Instance ${spec.id} is already running (${existing.machine.state.kind}): stop it first, or start the new release under another instance id.`,
      );
    }
    if (existing !== undefined) this.finish(existing);
    if (spec.command.length === 0) {
      throw new ConflictError(
        `Instance ${spec.id} has an empty command: declare the command that starts it.`,
      );
    }
    let resolveStopped = (): void => {};
    const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
    const inst: Instance = {
      spec,
      machine: initialMachine(this.now(), this.restartPolicy()),
      child: undefined,
      pid: undefined,
      generation: 0,
      timers: new Set(),
      writer: createLogWriter({
        file: instanceLogPath(this.options.logDir, spec.deployment, spec.id),
        maxBytes: this.options.log?.maxBytes,
        maxFiles: this.options.log?.maxFiles,
        redact: redactionsOf(spec),
        now: this.now,
      }),
      stderr: new StderrTail(),
      drainMs: 10_000,
      stopped,
      resolveStopped,
    };
    this.instances.set(spec.id, inst);
    if (!this.exitHookInstalled) {
      process.on('exit', this.exitHook);
      this.exitHookInstalled = true;
    }
    this.spawnChild(inst);
    return this.statusOf(inst);
  }

  async stop(id: string, options: StopOptions = {}): Promise<void> {
    const inst = this.instances.get(id);
    if (inst === undefined)
      throw new NotFoundError(`No instance ${id} is supervised: see status() for the running ones.`);
    inst.drainMs = options.drainMs ?? 10_000;
    const kind = inst.machine.state.kind;
    if (kind === 'precondition_failed' || kind === 'stopped') {
      this.finish(inst);
      return;
    }
    this.dispatch(inst, { type: 'stop', at: this.now() });
    await inst.stopped;
  }

  async stopAll(options: StopOptions = {}): Promise<void> {
    await Promise.all([...this.instances.keys()].map((id) => this.stop(id, options)));
    if (this.exitHookInstalled) {
      process.off('exit', this.exitHook);
      this.exitHookInstalled = false;
    }
  }

  status(): InstanceStatus[] {
    return [...this.instances.values()].map((inst) => this.statusOf(inst));
  }

  get(id: string): InstanceStatus | undefined {
    const inst = this.instances.get(id);
    return inst === undefined ? undefined : this.statusOf(inst);
  }

  private restartPolicy(failureThreshold = 3): RestartPolicy {
    return { ...this.policy, failureThreshold };
  }

  private statusOf(inst: Instance): InstanceStatus {
    const m = inst.machine;
    return {
      id: inst.spec.id,
      deployment: inst.spec.deployment,
      release: inst.spec.release,
      state: m.state,
      pid: inst.pid,
      port: inst.spec.port,
      restarts: m.restarts,
      startedAt: m.startedAt === undefined ? undefined : new Date(m.startedAt),
      healthySince: m.healthySince === undefined ? undefined : new Date(m.healthySince),
      lastError: m.lastError,
      startupLatencyMs: m.startupLatencyMs,
      stderrTail: inst.stderr.lines(),
    };
  }

  private dispatch(inst: Instance, event: InstanceEvent): void {
    const previous = inst.machine.state;
    const { machine, effects } = transition(
      inst.machine,
      event,
      this.restartPolicy(inst.spec.probe.failureThreshold),
    );
    inst.machine = machine;
    if (machine.state !== previous) this.onStateChange(inst, previous);
    for (const effect of effects) {
      switch (effect.type) {
        case 'spawn':
          this.spawnChild(inst);
          break;
        case 'kill':
          inst.writer.line('msp', `killing process group ${inst.pid ?? '?'}: ${effect.reason}`);
          this.killGroup(inst, this.killGraceMs);
          break;
        case 'terminate':
          inst.writer.line('msp', `stopping: SIGTERM, SIGKILL after ${inst.drainMs} ms`);
          this.killGroup(inst, inst.drainMs);
          break;
        case 'schedule_restart':
          this.later(inst, effect.delayMs, () =>
            this.dispatch(inst, { type: 'backoff_elapsed', at: this.now() }),
          );
          break;
      }
    }
  }

  private onStateChange(inst: Instance, previous: InstanceState): void {
    const state = inst.machine.state;
    if (state.kind !== previous.kind) {
      const detail =
        state.kind === 'restarting'
          ? `: ${state.reason}, restart #${inst.machine.restarts} in ${state.backoffMs} ms`
          : state.kind === 'precondition_failed'
            ? `: ${state.reason}`
            : state.kind === 'unhealthy'
              ? `: ${inst.machine.lastError ?? ''}`
              : '';
      inst.writer.line('msp', `${previous.kind} → ${state.kind}${detail}`);
    }
    if (state.kind === 'healthy' && previous.kind === 'starting') this.livenessLoop(inst);
    if (state.kind === 'precondition_failed' || state.kind === 'stopped' || state.kind === 'restarting') {
      this.clearTimers(inst);
    }
    this.emit('state', { id: inst.spec.id, previous, status: this.statusOf(inst) });
    if (state.kind === 'stopped') this.finish(inst);
  }

  /** Removes a finished instance: closes its log and resolves waiters. */
  private finish(inst: Instance): void {
    this.clearTimers(inst);
    inst.writer.close();
    if (this.instances.get(inst.spec.id) === inst) this.instances.delete(inst.spec.id);
    inst.resolveStopped();
  }

  private later(inst: Instance, ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      inst.timers.delete(timer);
      fn();
    }, ms);
    inst.timers.add(timer);
  }

  private clearTimers(inst: Instance): void {
    for (const timer of inst.timers) clearTimeout(timer);
    inst.timers.clear();
  }

  private spawnChild(inst: Instance): void {
    const spec = inst.spec;
    const gen = ++inst.generation;
    inst.stderr = new StderrTail();
    const [command, ...args] = spec.command;
    if (command === undefined) return;
    if (!existsSync(spec.cwd)) {
      this.dispatch(inst, {
        type: 'spawn_failed',
        at: this.now(),
        error: `working directory ${spec.cwd} does not exist: create it or fix the instance's cwd`,
      });
      return;
    }
    let child: ChildProcess;
    try {
      child = spawnInstance(spec, command, args);
    } catch (error) {
      this.spawnFailed(inst, command, error);
      return;
    }
    child.on('error', (error) => {
      if (child.pid === undefined && gen === inst.generation) this.spawnFailed(inst, command, error);
    });
    const pid = child.pid;
    if (pid === undefined) return; // the 'error' event follows
    inst.child = child;
    inst.pid = pid;
    let exited = false;
    recordSpawn(
      this.options.logDir,
      {
        id: spec.id,
        deployment: spec.deployment,
        pid,
        spawnedAt: new Date(this.now()).toISOString(),
        command: spec.command.filter(Boolean).join(' '),
      },
      () => exited,
    );
    inst.writer.line('msp', `started pid ${pid} on port ${spec.port}: ${spec.command.join(' ')}`);
    child.stdout?.on('data', (chunk: Buffer) => inst.writer.write('out', chunk));
    child.stderr?.on('data', (chunk: Buffer) => {
      inst.writer.write('err', chunk);
      inst.stderr.push(chunk);
    });
    child.on('exit', (code, signal) => {
      exited = true;
      // The group outlives its leader when grandchildren remain: an instance is its whole group.
      signalProcessGroup(pid, 'SIGKILL');
      removePidFile(this.options.logDir, spec.id, pid);
      if (inst.child === child) {
        inst.child = undefined;
        inst.pid = undefined;
      }
      inst.writer.line(
        'msp',
        `pid ${pid} ${signal !== null ? `exited on signal ${signal}` : `exited with code ${code}`}`,
      );
      this.emit('exit', { id: spec.id, pid, code, signal });
      if (gen === inst.generation) this.dispatch(inst, { type: 'exited', at: this.now(), code, signal });
    });
    this.dispatch(inst, { type: 'spawned', at: this.now() });
    this.startupLoop(inst, gen);
  }

  private spawnFailed(inst: Instance, command: string, error: unknown): void {
    this.dispatch(inst, { type: 'spawn_failed', at: this.now(), error: spawnFailure(command, error) });
  }

  private isCurrent(inst: Instance, gen: number): boolean {
    return this.instances.get(inst.spec.id) === inst && inst.generation === gen;
  }

  private startupLoop(inst: Instance, gen: number): void {
    const probe = inst.spec.probe;
    const deadline = this.now() + probe.startupDeadlineMs;
    let delay = Math.min(50, probe.startupIntervalMs);
    const tick = async (): Promise<void> => {
      if (!this.isCurrent(inst, gen) || inst.machine.state.kind !== 'starting') return;
      const result = await probeHttp({ ...probe, port: inst.spec.port });
      if (!this.isCurrent(inst, gen) || inst.machine.state.kind !== 'starting') return;
      const at = this.now();
      if (result.ok) {
        this.dispatch(inst, { type: 'probe_ok', at });
        return;
      }
      this.dispatch(inst, { type: 'probe_failed', at, error: result.error });
      if (at >= deadline) {
        this.dispatch(inst, {
          type: 'startup_timeout',
          at,
          error: `startup probe did not pass within ${probe.startupDeadlineMs} ms (last: ${result.error})`,
        });
        return;
      }
      delay = Math.min(delay * 2, probe.startupIntervalMs);
      this.later(inst, Math.min(delay, Math.max(0, deadline - at)), () => void tick());
    };
    this.later(inst, delay, () => void tick());
  }

  private livenessLoop(inst: Instance): void {
    const gen = inst.generation;
    const probe = inst.spec.probe;
    const tick = async (): Promise<void> => {
      const live = (): boolean =>
        this.isCurrent(inst, gen) &&
        (inst.machine.state.kind === 'healthy' || inst.machine.state.kind === 'unhealthy') &&
        inst.machine.killReason === undefined;
      if (!live()) return;
      const result = await probeHttp({ ...probe, port: inst.spec.port });
      if (!live()) return;
      const at = this.now();
      this.dispatch(
        inst,
        result.ok ? { type: 'probe_ok', at } : { type: 'probe_failed', at, error: result.error },
      );
      if (live()) this.later(inst, probe.livenessIntervalMs, () => void tick());
    };
    this.later(inst, probe.livenessIntervalMs, () => void tick());
  }

  /** SIGTERM to the group, SIGKILL after the grace period unless it exited. */
  private killGroup(inst: Instance, graceMs: number): void {
    const pid = inst.pid;
    const child = inst.child;
    if (pid === undefined || child === undefined) return;
    signalProcessGroup(pid, 'SIGTERM');
    const timer = setTimeout(() => signalProcessGroup(pid, 'SIGKILL'), graceMs);
    child.once('exit', () => clearTimeout(timer));
  }
}

export function createSupervisor(options: SupervisorOptions): Supervisor {
  return new ProcessSupervisor(options);
}
