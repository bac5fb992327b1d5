export * from './repository.js';
export * from './base-backup.js';
export * from './base-restore.js';
export * from './recovery.js';
export * from './volume.js';
export { readArchivedWal, CorruptWalError } from './fetch-wal.js';
export * from './wal-receiver.js';
