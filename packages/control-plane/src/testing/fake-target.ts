/**
 * A test-only runtime target that runs nothing: it keeps each deployment's release, database and backups
 * in memory and records every call. It registers through the seam like any target would (e.g. as the
 * `kubernetes` runtime of a fixture repo) and proves that deploys, backups and promotions need nothing but
 * the RuntimeTarget port. Used by tests only; not exported from the package.
 */
import { PreconditionFailedError, type DeploymentSpec } from '@msp/core';
import type {
  ArchivedSegment,
  BaseBackupTaken,
  Databases,
  RuntimeTarget,
  Volumes,
  Workloads,
} from '../runtime-port.js';
import type { TargetFactory } from '../targets/registry.js';

interface FakeDeployment {
  release?: string;
  running: boolean;
  databases?: string[];
  databaseRunning: boolean;
  baseBackups: Set<string>;
  snapshots: Set<string>;
  wal: ArchivedSegment[];
}

export interface FakeTarget extends RuntimeTarget {
  /** Every call, as `method key` (e.g. `baseBackup shop/dev`, `step apply shop/prod`). */
  readonly calls: string[];
  /** What the fake holds about a deployment. */
  deployment(key: string): FakeDeployment | undefined;
}

const walName = (n: number) => `00000001000000000000${n.toString(16).toUpperCase().padStart(4, '0')}`;

export function fakeTargetFactory(name: string, onCreate?: (t: FakeTarget) => void): TargetFactory {
  return ({ store }) => {
    const calls: string[] = [];
    const deployments = new Map<string, FakeDeployment>();
    let walCounter = 1;
    const of = (key: string) => {
      let d = deployments.get(key);
      if (!d) {
        deployments.set(
          key,
          (d = {
            running: false,
            databaseRunning: false,
            baseBackups: new Set(),
            snapshots: new Set(),
            wal: [],
          }),
        );
      }
      return d;
    };
    const withDatabase = (key: string) => {
      const d = of(key);
      if (!d.databases) throw new PreconditionFailedError(`${key} has no PostgreSQL.`);
      return d;
    };
    const archive = (d: FakeDeployment) => {
      const at = new Date().toISOString();
      const segment = { name: walName(walCounter++), walEndTime: at, archivedAt: at };
      d.wal.push(segment);
      return segment;
    };

    const workloads: Workloads = {
      stop(key) {
        calls.push(`workloads.stop ${key}`);
        of(key).running = false;
        return Promise.resolve();
      },
      async start(key) {
        calls.push(`workloads.start ${key}`);
        const row = await store.requireDeployment(key);
        const d = of(key);
        d.running = true;
        d.release = row.targetRelease?.version ?? 'working-tree';
        return `${d.release} running`;
      },
    };
    const databases: Databases = {
      describe: (key) => Promise.resolve(of(key).databases ? { databases: of(key).databases! } : undefined),
      isRunning: (key) => Promise.resolve(of(key).databaseRunning),
      ensure(key) {
        withDatabase(key).databaseRunning = true;
        return Promise.resolve();
      },
      stop(key) {
        of(key).databaseRunning = false;
        return Promise.resolve();
      },
      check: (key) => Promise.resolve(void withDatabase(key)),
      baseBackup(key, request) {
        calls.push(`baseBackup ${key} fast=${request.fast}`);
        const d = withDatabase(key);
        const start = archive(d);
        d.baseBackups.add(request.id);
        const taken: BaseBackupTaken = {
          finishedAt: new Date().toISOString(),
          rawBytes: 4096,
          storedBytes: 1024,
          timeline: 1,
          startLsn: '0/2000028',
          stopLsn: '0/2000100',
          startWal: start.name,
          stopWal: start.name,
          files: 1,
          manifest: { fake: true, id: request.id },
          problems: [],
        };
        return Promise.resolve(taken);
      },
      verifyBaseBackup(key, id) {
        const ok = of(key).baseBackups.has(id);
        return Promise.resolve({
          problems: ok ? [] : [{ file: id, problem: 'missing' }],
          files: ok ? 1 : 0,
          walSegments: 1,
        });
      },
      deleteBaseBackup(key, id) {
        of(key).baseBackups.delete(id);
        return Promise.resolve();
      },
      walArchive: (key) => Promise.resolve([...of(key).wal]),
      archiver: () => Promise.resolve(null),
      deleteWal(key, segments) {
        const d = of(key);
        d.wal = d.wal.filter((s) => !segments.includes(s.name));
        return Promise.resolve();
      },
      restoreBaseBackup: (key, r) => Promise.resolve(`${key} ← ${r.backupId}`),
      recover: (key) => Promise.resolve(`${key} recovered`),
      restorePrevious: () => Promise.resolve(false),
      discardPrevious: () => Promise.resolve(),
      drill: (key) => Promise.resolve({ databases: withDatabase(key).databases!, rowCounts: {} }),
    };
    const volumes: Volumes = {
      snapshot(key, { id }) {
        of(key).snapshots.add(id);
        return Promise.resolve({
          takenAt: new Date().toISOString(),
          storedBytes: 10,
          manifest: {},
          problems: [],
        });
      },
      verifySnapshot: (key, id) =>
        Promise.resolve(of(key).snapshots.has(id) ? [] : [{ file: id, problem: 'missing' }]),
      deleteSnapshot(key, id) {
        of(key).snapshots.delete(id);
        return Promise.resolve();
      },
      restore: () => Promise.resolve(),
    };

    const target: FakeTarget = {
      name,
      calls,
      deployment: (key) => deployments.get(key),
      steps: {
        deploy: ['apply', 'record'],
        stop: ['scale-down', 'record'],
        delete: ['scale-down', 'forget', 'record'],
      },
      async runStep(step, ctx) {
        const op = ctx.operation;
        const key = op.deploymentKey;
        calls.push(`step ${step} ${key} (${op.kind})`);
        const row = await store.requireDeployment(key);
        const d = of(key);
        if (op.kind === 'stop' || op.kind === 'delete') {
          if (step === 'scale-down') d.running = false;
          if (step === 'forget') deployments.delete(key);
          if (step === 'record') {
            if (op.kind === 'delete') await store.removeDeployment(key);
            else {
              await store.setDesiredState(key, 'stopped');
              await store.setStatus(key, 'stopped', null);
            }
          }
          return step;
        }
        if (step === 'apply') {
          const spec = row.spec as DeploymentSpec;
          d.databases = spec.environment.resources?.postgreSQL?.databases;
          d.databaseRunning = d.databases !== undefined;
          d.release = row.targetRelease?.version ?? 'working-tree';
          d.running = true;
          return `${d.release} applied`;
        }
        await store.setDesiredState(key, 'running');
        await store.markApplied(key, row.specHash);
        await store.setStatus(key, 'healthy', null, d.release ?? null);
        return d.release;
      },
      workloads,
      databases,
      volumes,
      status(key) {
        const d = deployments.get(key);
        if (!d) return undefined;
        return {
          key,
          instances: d.running
            ? [
                {
                  id: `${key}#fake-1`,
                  state: 'healthy',
                  restarts: 0,
                  ...(d.release ? { release: d.release } : {}),
                },
              ]
            : [],
          urls: [],
          pendingRequests: 0,
        };
      },
      isRunning: (key) => deployments.get(key)?.running ?? false,
      proxyUrl: () => undefined,
      // The fake has no logs: an empty stream.
      logs: () => ({
        [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ done: true, value: undefined }) }),
      }),
      grantDatabaseAccess(key, request) {
        const d = withDatabase(key);
        return Promise.resolve({
          validUntil: new Date(Date.now() + request.validForSeconds * 1000).toISOString(),
          user: 'fake',
          password: 'fake',
          host: 'fake',
          port: 5432,
          databases: d.databases!,
        });
      },
      metrics: () => ({ pendingRequests: {} }),
      stop: () => Promise.resolve(),
    };
    onCreate?.(target);
    return Promise.resolve(target);
  };
}
