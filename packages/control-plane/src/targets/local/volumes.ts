/** The local runtime's volumes capability: directories under the data dir, snapshots in the repository. */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ensurePrivateDir,
  makeTreePrivate,
  PRIVATE_DIR_MODE,
  restoreVolume,
  snapshotVolume,
  verifyVolumeSnapshot,
} from '@msp/runtime-local';
import type { Volumes } from '../../runtime-port.js';
import { pathsOf, type LocalContext } from './context.js';
import { repositoryOf } from './databases.js';

/**
 * Creates the deployment's volume folders owner-only (0700), the folder that holds them too. A volume from
 * an older MSP (0755, its files 0644) is made owner-only throughout, once.
 */
export async function ensureVolumeDirs(
  c: Pick<LocalContext, 'dataDir'>,
  key: string,
  names: readonly string[],
): Promise<void> {
  const root = pathsOf(c.dataDir, key).volumes;
  await ensurePrivateDir(root);
  for (const name of names) {
    const dir = join(root, name);
    const before = await stat(dir).catch(() => undefined);
    if (before && (before.mode & 0o777) !== PRIVATE_DIR_MODE) await makeTreePrivate(dir);
    await ensurePrivateDir(dir);
  }
}

export function createVolumes(c: LocalContext): Volumes {
  return {
    async snapshot(key, { volume, id }) {
      const repository = repositoryOf(c.dataDir, key);
      const m = await snapshotVolume({
        repository,
        id,
        volume,
        dir: join(pathsOf(c.dataDir, key).volumes, volume),
      });
      const check = await verifyVolumeSnapshot(repository, id);
      return { takenAt: m.takenAt, storedBytes: m.storedBytes, manifest: m, problems: check.problems };
    },
    async verifySnapshot(key, id) {
      return (await verifyVolumeSnapshot(repositoryOf(c.dataDir, key), id)).problems;
    },
    async deleteSnapshot(key, id) {
      await repositoryOf(c.dataDir, key).deletePrefix(`volume/${id}/`);
    },
    async restore(key, { from, volume, id }) {
      await ensureVolumeDirs(c, key, []);
      const dir = join(pathsOf(c.dataDir, key).volumes, volume);
      await restoreVolume({ repository: repositoryOf(c.dataDir, from), id, dir });
    },
  };
}
