/** The local runtime's volumes capability: directories under the data dir, snapshots in the repository. */
import { chown, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ensurePrivateDir,
  giveTreeTo,
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
 * Creates the deployment's volume folders owner-only (0700), the folder that holds them too, owned by the
 * user its instances run as (they write there and nowhere else). A volume from an older MSP (0755, its files
 * 0644, owned by root) is made owner-only and given to that user throughout, once.
 */
export async function ensureVolumeDirs(
  c: Pick<LocalContext, 'dataDir' | 'serviceUser'>,
  key: string,
  names: readonly string[],
): Promise<void> {
  const root = pathsOf(c.dataDir, key).volumes;
  await ensurePrivateDir(root);
  await giveToServiceUser(c, root, false);
  for (const name of names) {
    const dir = join(root, name);
    const before = await stat(dir).catch(() => undefined);
    if (before && (before.mode & 0o777) !== PRIVATE_DIR_MODE) await makeTreePrivate(dir);
    await ensurePrivateDir(dir);
    await giveToServiceUser(c, dir, true);
  }
}

/** The instances' HOME: owner-only, owned by the user they run as. */
export async function ensureHomeDir(
  c: Pick<LocalContext, 'dataDir' | 'serviceUser'>,
  key: string,
): Promise<void> {
  const home = pathsOf(c.dataDir, key).home;
  await ensurePrivateDir(home);
  await giveToServiceUser(c, home, false);
}

async function giveToServiceUser(
  c: Pick<LocalContext, 'serviceUser'>,
  path: string,
  tree: boolean,
): Promise<void> {
  const { switchUser, uid, gid } = c.serviceUser;
  if (!switchUser) return;
  const s = await stat(path);
  if (tree && (s.uid !== uid || s.gid !== gid || s.isDirectory())) await giveTreeTo(path, uid, gid);
  else if (s.uid !== uid || s.gid !== gid) await chown(path, uid, gid);
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
      // Restored files are root's: they belong to the user the deployment's instances run as.
      await ensureVolumeDirs(c, key, [volume]);
    },
  };
}
