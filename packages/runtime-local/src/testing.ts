import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnavailableError } from '@msp/core';
import { findFreePort } from './net.js';
import {
  CLUSTER_ROLES,
  createPostgresCluster,
  type ClusterRole,
  type PostgresCluster,
} from './postgres/index.js';

export interface TestCluster {
  cluster: PostgresCluster;
  /** `postgresql://user:password@127.0.0.1:port/db`; role defaults to admin, db to the first database. */
  connectionString(role?: ClusterRole, database?: string): string;
  /** Stops the server and removes its directory. */
  cleanup(): Promise<void>;
}

/**
 * A real, running PostgreSQL cluster for tests: a temp dir under os.tmpdir(), a free port, random
 * passwords, fsync off (throwaway data). Databases default to ["test"]. Always call cleanup().
 */
export async function startTestCluster(
  opts: { databases?: string[]; name?: string; maxSlotWalKeepMB?: number } = {},
): Promise<TestCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'msp-pg-'));
  // mkdtemp makes it 0700; PostgreSQL may run as another user (msp-postgres under root) and must get through.
  await chmod(dir, 0o711);
  const databases = opts.databases ?? ['test'];
  const password = (): string => randomBytes(18).toString('base64url');
  const passwords = { admin: password(), workload: password(), operator: password() };
  const remove = (): Promise<void> => rm(dir, { recursive: true, force: true });
  let cluster: PostgresCluster | undefined;
  // The free port can be taken by someone else before PostgreSQL binds it: try another one.
  for (let attempt = 1; cluster === undefined; attempt++) {
    const candidate = createPostgresCluster({
      name: opts.name ?? 'test',
      dir: join(dir, 'cluster'),
      archiveDir: join(dir, 'archive'),
      port: await findFreePort(),
      databases,
      maxConnections: 50,
      passwords,
      fsync: false,
      ...(opts.maxSlotWalKeepMB !== undefined ? { maxSlotWalKeepMB: opts.maxSlotWalKeepMB } : {}),
    });
    try {
      await candidate.ensure();
      cluster = candidate;
    } catch (error) {
      await candidate.stop('immediate').catch(() => undefined);
      const portTaken = error instanceof UnavailableError && error.details?.port !== undefined;
      if (!portTaken || attempt >= 3) {
        await remove();
        throw error;
      }
    }
  }
  const running = cluster;
  // Safety net for a test process that exits without cleanup() (a failing before hook, process.exit):
  // PostgreSQL runs in its own session and would outlive it. Only synchronous work is possible here.
  const onExit = (): void => {
    try {
      const pid = Number(
        readFileSync(join(running.options.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0],
      );
      if (pid > 0) process.kill(pid, 'SIGQUIT'); // immediate shutdown
    } catch {
      // not running
    }
  };
  process.once('exit', onExit);
  const cleanup = async (): Promise<void> => {
    process.removeListener('exit', onExit);
    try {
      await running.stop('immediate');
    } finally {
      await remove();
    }
  };
  return {
    cluster: running,
    connectionString(role: ClusterRole = 'admin', database = databases[0] ?? 'postgres'): string {
      const config = running.connectionConfig(role, database);
      const user = encodeURIComponent(CLUSTER_ROLES[role]);
      const secret = encodeURIComponent(String(config.password));
      return `postgresql://${user}:${secret}@${config.host}:${config.port}/${encodeURIComponent(database)}`;
    },
    cleanup,
  };
}
