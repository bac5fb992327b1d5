/** `msp backup create|list|verify|delete` and `msp restore`. */
import type { Command } from 'commander';
import { action } from '../cli-support.js';

const impl = () => import('./backup-impl.js');

export interface BackupCommonOptions {
  repo?: string;
  json?: boolean;
}
export interface BackupCreateOptions extends BackupCommonOptions {
  reason?: string;
  wait?: boolean;
}
export interface RestoreOptions extends BackupCommonOptions {
  to?: string;
  backup?: string;
  latest?: boolean;
  type: string;
  into?: string;
  inPlace?: boolean;
  delta?: boolean;
}

export function registerBackupCommands(program: Command): void {
  const backup = program
    .command('backup')
    .description('Backups of a deployment: base backups, WAL archive, volume snapshots');
  backup
    .command('create')
    .description('Take a backup now (base backup + volume snapshots), as an operation with progress')
    .argument('<target>', 'service id, or an instance id')
    .argument('[env]', 'environment of the service')
    .option('--reason <text>', 'why (recorded with the backup)')
    .option('--wait', 'when another operation runs on the deployment, wait for it to finish, then start')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print the finished operation as JSON')
    .action(
      action(async (target: string, env: string | undefined, opts: BackupCreateOptions) =>
        (await impl()).backupCreate(target, env, opts),
      ),
    );
  backup
    .command('list')
    .description(
      'Backups with kind, status, times, size; the recoverable window; ages of the last good base backup and last archived WAL',
    )
    .argument('<target>', 'service id, or an instance id')
    .argument('[env]', 'environment of the service')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print JSON')
    .action(
      action(async (target: string, env: string | undefined, opts: BackupCommonOptions) =>
        (await impl()).backupList(target, env, opts),
      ),
    );
  backup
    .command('verify')
    .description('Decompress and check every checksum of a backup (and the WAL it needs)')
    .argument('<backup-id>', 'as `msp backup list` shows it')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print the finished operation as JSON')
    .action(action(async (id: string, opts: BackupCommonOptions) => (await impl()).backupVerify(id, opts)));
  backup
    .command('delete')
    .description('Delete a backup (the last good one is never deleted)')
    .argument('<backup-id>', 'as `msp backup list` shows it')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print the finished operation as JSON')
    .action(action(async (id: string, opts: BackupCommonOptions) => (await impl()).backupDelete(id, opts)));

  program
    .command('restore')
    .description(
      'Restore a deployment to a time, a backup or the latest state, into a new deployment (a clone) or in place (after a safety backup)',
    )
    .argument('<target>', 'service id, or an instance id')
    .argument('[env]', 'environment of the service')
    .option('--to <time>', 'an RFC 3339 time inside the recoverable window')
    .option('--backup <id>', 'a backup id (restores to its consistent point)')
    .option('--latest', 'the newest state the archive holds')
    .option('--type <type>', 'full, database, or volume:<name>', 'full')
    .option('--into <name>', 'a new deployment beside the original')
    .option('--in-place', 'replace the deployment’s data (a safety backup is taken first)')
    .option('--delta', 'with --in-place: rewrite only the files that differ from the backup')
    .option('--repo <dir>', 'platform repo of the running control plane')
    .option('--json', 'print the finished operation as JSON')
    .action(
      action(async (target: string, env: string | undefined, opts: RestoreOptions) =>
        (await impl()).restore(target, env, opts),
      ),
    );
}
