/**
 * The backup repository: named objects (base backup packs, manifests, volume snapshots) behind a narrow
 * interface, so an object store can implement it later. The directory implementation writes every object
 * to a temporary name, fsyncs it and renames it into place: an object that exists is complete. Objects
 * are immutable: putting different content under an existing name is refused.
 */
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { ConflictError, InputError, NotFoundError } from '@msp/core';

export interface ObjectInfo {
  name: string;
  size: number;
  modifiedAt: string;
}

/** An object being written: positioned writes (parallel producers), then commit (atomic) or abort. */
export interface ObjectWriter {
  write(data: Buffer, position: number): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface BackupRepository {
  /** Where it is (shown to operators). */
  readonly location: string;
  put(name: string, data: Buffer | string): Promise<void>;
  createWriter(name: string): Promise<ObjectWriter>;
  get(name: string): Promise<Buffer>;
  /** `length` bytes at `offset`. */
  read(name: string, offset: number, length: number): Promise<Buffer>;
  stream(name: string): Readable;
  stat(name: string): Promise<ObjectInfo | undefined>;
  /** Objects whose names start with `prefix` (e.g. "base/"), sorted by name. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Deletes every object under `prefix` (a whole backup); leftovers of interrupted writes too. */
  deletePrefix(prefix: string): Promise<void>;
  /** Deletes one object; nothing happens when it is not there. */
  delete(name: string): Promise<void>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;
const TMP_SUFFIX = '.msp-tmp';

export function createDirectoryRepository(root: string): BackupRepository {
  const base = resolve(root);
  const pathOf = (name: string): string => {
    if (!NAME.test(name) || name.includes('..') || name.endsWith(TMP_SUFFIX)) {
      throw new InputError(`"${name}" is not a valid backup object name.`);
    }
    return join(base, ...name.split('/'));
  };
  const syncDir = async (dir: string) => {
    const h = await open(dir, constants.O_RDONLY);
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  };
  const statOf = async (name: string): Promise<ObjectInfo | undefined> => {
    try {
      const s = await stat(pathOf(name));
      return s.isFile() ? { name, size: s.size, modifiedAt: s.mtime.toISOString() } : undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };
  const hashFile = async (path: string) => {
    const h = createHash('sha256');
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
    return h.digest('hex');
  };

  const repo: BackupRepository = {
    location: base,
    async put(name, data) {
      const buffer = typeof data === 'string' ? Buffer.from(data) : data;
      const writer = await repo.createWriter(name);
      try {
        await writer.write(buffer, 0);
        await writer.commit();
      } catch (error) {
        await writer.abort();
        throw error;
      }
    },
    async createWriter(name) {
      const path = pathOf(name);
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const tmp = path + TMP_SUFFIX;
      await rm(tmp, { force: true });
      const handle: FileHandle = await open(
        tmp,
        constants.O_RDWR | constants.O_CREAT | constants.O_EXCL,
        0o600,
      );
      let closed = false;
      const close = async () => {
        if (!closed) {
          closed = true;
          await handle.close();
        }
      };
      return {
        async write(data, position) {
          let done = 0;
          while (done < data.length) {
            done += (await handle.write(data, done, data.length - done, position + done)).bytesWritten;
          }
        },
        async commit() {
          await handle.sync();
          await close();
          if (await statOf(name)) {
            // Immutable: identical content is a harmless retry, anything else a conflict.
            if ((await hashFile(tmp)) !== (await hashFile(path))) {
              await rm(tmp, { force: true });
              throw new ConflictError(
                `Backup object ${name} already exists with different content in ${base}; it is never overwritten.`,
              );
            }
            await rm(tmp, { force: true });
            return;
          }
          await rename(tmp, path);
          await syncDir(dirname(path));
        },
        async abort() {
          await close().catch(() => undefined);
          await rm(tmp, { force: true });
        },
      };
    },
    async get(name) {
      try {
        return await readFile(pathOf(name));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new NotFoundError(`Backup object ${name} is missing from ${base}.`);
        }
        throw error;
      }
    },
    async read(name, offset, length) {
      const h = await open(pathOf(name), 'r');
      try {
        const buffer = Buffer.allocUnsafe(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await h.read(buffer, done, length - done, offset + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return done === length ? buffer : buffer.subarray(0, done);
      } finally {
        await h.close();
      }
    },
    stream(name) {
      return createReadStream(pathOf(name));
    },
    stat: statOf,
    async list(prefix) {
      const out: ObjectInfo[] = [];
      const walk = async (dir: string): Promise<void> => {
        let entries;
        try {
          entries = await readdir(dir, { withFileTypes: true });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw error;
        }
        for (const e of entries) {
          const p = join(dir, e.name);
          if (e.isDirectory()) await walk(p);
          else if (e.isFile() && !e.name.endsWith(TMP_SUFFIX)) {
            const name = relative(base, p).split(sep).join('/');
            if (name.startsWith(prefix)) {
              const s = await stat(p);
              out.push({ name, size: s.size, modifiedAt: s.mtime.toISOString() });
            }
          }
        }
      };
      const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
      await walk(dirPart ? join(base, ...dirPart.split('/')) : base);
      return out.sort((a, b) => a.name.localeCompare(b.name));
    },
    async deletePrefix(prefix) {
      if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*\/$/.test(prefix) || prefix.includes('..')) {
        throw new InputError(
          `"${prefix}" is not a deletable prefix (it must name a directory, ending in /).`,
        );
      }
      await rm(join(base, ...prefix.split('/').filter(Boolean)), { recursive: true, force: true });
    },
    async delete(name) {
      await rm(pathOf(name), { force: true });
    },
  };
  return repo;
}
