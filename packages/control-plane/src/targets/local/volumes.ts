/** The local runtime's volumes capability: directories under the data dir, snapshots in the repository. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { restoreVolume, snapshotVolume, verifyVolumeSnapshot } from '@msp/runtime-local';
import type { Volumes } from '../../runtime-port.js';
import { pathsOf, type LocalContext } from './context.js';
import { repositoryOf } from './databases.js';

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
      const root = pathsOf(c.dataDir, key).volumes;
      await mkdir(root, { recursive: true });
      await restoreVolume({ repository: repositoryOf(c.dataDir, from), id, dir: join(root, volume) });
    },
  };
}
