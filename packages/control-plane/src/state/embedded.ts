/**
 * The embedded state database: a PostgreSQL cluster under the data dir (port and passwords kept in
 * state.json), and its supervision: started again within a second or two when it died (crash recovery),
 * with the watchdog mechanism the local target uses for deployment databases.
 */
import { join } from 'node:path';
import { createPostgresCluster, findFreePort, type PostgresCluster } from '@msp/runtime-local';
import { readJson, writeSecretFile, type DataDir } from '../data-dir.js';
import { generateSecret } from '../secrets.js';
import { startWatchdog, type Watchdog } from '../watchdog.js';

interface StateConfig {
  port: number;
  passwords: { admin: string; workload: string; operator: string };
}

export async function startEmbeddedState(dir: DataDir): Promise<{ cluster: PostgresCluster; url: string }> {
  let config = await readJson<StateConfig>(dir.stateConfig);
  if (!config) {
    config = {
      port: await findFreePort(),
      passwords: { admin: generateSecret(), workload: generateSecret(), operator: generateSecret() },
    };
    await writeSecretFile(dir.stateConfig, JSON.stringify(config, null, 2) + '\n');
  }
  const cluster = createPostgresCluster({
    name: 'msp-state',
    dir: dir.stateCluster,
    port: config.port,
    databases: ['msp'],
    maxConnections: 100,
    archiveDir: join(dir.archive, '_state'),
    passwords: config.passwords,
  });
  await cluster.ensure();
  const c = cluster.connectionConfig('admin', 'msp');
  const url = `postgresql://${encodeURIComponent(String(c.user))}:${encodeURIComponent(String(c.password))}@${c.host}:${c.port}/msp`;
  return { cluster, url };
}

/** Keeps the embedded state database running; `restarted` is told once it is back (to record an event). */
export function superviseStateDatabase(
  cluster: PostgresCluster,
  options: { log: (line: string) => void; restarted?: () => Promise<void>; intervalMs?: number },
): Watchdog {
  return startWatchdog({
    intervalMs: options.intervalMs ?? 500,
    watched: () => Promise.resolve([['state', cluster] as const]),
    restarting: () =>
      options.log('control plane: the state database is not running; starting it (crash recovery)'),
    restarted: async () => {
      options.log('control plane: the state database runs again');
      await options.restarted?.();
    },
    failed: (error) => options.log(`control plane: state database watchdog: ${String(error)}`),
  });
}
