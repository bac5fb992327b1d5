export { createBackupsModule, createBackupsHandler, type BackupsModuleOptions } from './module.js';
export { takeBackup, backupHealth, backupIdFor, type BackupDeps, type TakenBackup } from './backups.js';
export { createBackupStore, type BackupStore, type BackupRow } from './store.js';
