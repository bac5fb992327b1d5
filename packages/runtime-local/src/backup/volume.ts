/**
 * Volume snapshots: a volume directory as a gzip-compressed tar in the repository, checksummed, with a
 * small manifest. Restore checks the checksum before touching the volume, extracts beside it and swaps.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { create, extract } from 'tar';
import { PreconditionFailedError } from '@msp/core';
import { ensurePrivateDir, PRIVATE_DIR_MODE } from '../private-files.js';
import type { BackupRepository } from './repository.js';

export interface VolumeSnapshotManifest {
  format: 'msp-volume-snapshot/1';
  id: string;
  volume: string;
  object: string;
  storedBytes: number;
  sha256: string;
  takenAt: string;
}

export const volumeObjectName = (id: string) => `volume/${id}/volume.tar.gz`;
export const volumeManifestName = (id: string) => `volume/${id}/manifest.json`;

export async function snapshotVolume(options: {
  repository: BackupRepository;
  id: string;
  volume: string;
  dir: string;
}): Promise<VolumeSnapshotManifest> {
  const { repository, id } = options;
  await repository.deletePrefix(`volume/${id}/`);
  await ensurePrivateDir(options.dir);
  const writer = await repository.createWriter(volumeObjectName(id));
  const hash = createHash('sha256');
  let offset = 0;
  try {
    await pipeline(
      create({ gzip: { level: 1 }, cwd: options.dir, portable: true }, ['.']),
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          const at = offset;
          offset += chunk.length;
          writer.write(chunk, at).then(() => cb(), cb);
        },
      }),
    );
    await writer.commit();
  } catch (error) {
    await writer.abort();
    throw error;
  }
  const manifest: VolumeSnapshotManifest = {
    format: 'msp-volume-snapshot/1',
    id,
    volume: options.volume,
    object: volumeObjectName(id),
    storedBytes: offset,
    sha256: hash.digest('hex'),
    takenAt: new Date().toISOString(),
  };
  await repository.put(volumeManifestName(id), JSON.stringify(manifest));
  return manifest;
}

export async function verifyVolumeSnapshot(
  repository: BackupRepository,
  id: string,
): Promise<{ ok: boolean; problems: { file: string; problem: string }[] }> {
  let manifest: VolumeSnapshotManifest;
  try {
    manifest = JSON.parse(
      (await repository.get(volumeManifestName(id))).toString(),
    ) as VolumeSnapshotManifest;
  } catch (error) {
    return { ok: false, problems: [{ file: volumeManifestName(id), problem: (error as Error).message }] };
  }
  const hash = createHash('sha256');
  try {
    for await (const chunk of repository.stream(manifest.object)) hash.update(chunk as Buffer);
  } catch (error) {
    return { ok: false, problems: [{ file: manifest.object, problem: (error as Error).message }] };
  }
  return hash.digest('hex') === manifest.sha256
    ? { ok: true, problems: [] }
    : { ok: false, problems: [{ file: manifest.object, problem: 'its sha256 does not match the manifest' }] };
}

/** Replaces `dir` with the snapshot's content (checked first); the old content is removed on success. */
export async function restoreVolume(options: {
  repository: BackupRepository;
  id: string;
  dir: string;
  owner?: { uid: number; gid: number };
}): Promise<VolumeSnapshotManifest> {
  const { repository, id, dir } = options;
  const check = await verifyVolumeSnapshot(repository, id);
  if (!check.ok) {
    const p = check.problems[0]!;
    throw new PreconditionFailedError(
      `Volume snapshot ${id} is corrupt: ${p.file}: ${p.problem}. It was not restored; choose another snapshot.`,
    );
  }
  const manifest = JSON.parse(
    (await repository.get(volumeManifestName(id))).toString(),
  ) as VolumeSnapshotManifest;
  const staging = `${dir}.msp-restoring`;
  const aside = `${dir}.msp-before-restore`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true, mode: PRIVATE_DIR_MODE });
  await pipeline(repository.stream(manifest.object), extract({ cwd: staging, strict: true }));
  // The snapshot's "." entry carries the folder's old mode: a volume is owner-only whatever it was.
  await chmod(staging, PRIVATE_DIR_MODE);
  await rm(aside, { recursive: true, force: true });
  if (await stat(dir).catch(() => undefined)) await rename(dir, aside);
  await rename(staging, dir);
  await rm(aside, { recursive: true, force: true });
  return manifest;
}
