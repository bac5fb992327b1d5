/**
 * (Over 400 lines: the one databases capability, whose restore steps share their helpers.)
 * The local runtime's databases capability: each deployment's PostgreSQL cluster, its base backups in the
 * deployment's directory repository, its WAL archive, restores (files, then recovery) and the restore drill
 * in a scratch cluster. Every step a restore runs is idempotent: a resumed one finds its work done.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { PreconditionFailedError, walSegmentRange, type RestoreTarget } from '@msp/core';
import {
  ARCHIVER_STATUS_SQL,
  CLUSTER_ROLES,
  clearRecoverySql,
  createDirectoryRepository,
  createPostgresCluster,
  deleteArchivedWal,
  findFreePort,
  listArchivedWal,
  postgresOsUser,
  readManifest,
  removeWalSpool,
  restoreBaseBackup,
  takeBaseBackup,
  toArchiverStatus,
  verifyArchivedWal,
  verifyBaseBackup,
  waitForRecovery,
  writeRecoveryConfig,
  type DeltaSummary,
  type BackupRepository,
  type PostgresCluster,
} from '@msp/runtime-local';
import { stopWalStream } from './wal-streams.js';
import { slugOf, type DataDir } from '../../data-dir.js';
import type { Databases } from '../../runtime-port.js';
import {
  archiveOf,
  archiveOfBackup,
  clusterOf,
  incarnationObject,
  pruneOldArchives,
  noteBackupIncarnation,
  pathsOf,
  type LocalContext,
} from './context.js';

export function repositoryOf(dataDir: DataDir, key: string): BackupRepository {
  return createDirectoryRepository(pathsOf(dataDir, key).backups);
}

/** The archive `from`'s WAL is replayed from: the one of the backup restored, else the current one. */
const sourceArchive = (c: LocalContext, from: string, backupId: string | undefined) =>
  backupId === undefined
    ? archiveOf(c, from)
    : archiveOfBackup(c.dataDir, from, repositoryOf(c.dataDir, from), backupId);

const owner = async () => {
  const user = await postgresOsUser();
  return user.switchUser ? { uid: user.uid, gid: user.gid } : undefined;
};

const describe = (t: RestoreTarget) =>
  t.kind === 'time' ? `to ${t.time}` : t.kind === 'backup' ? `backup ${t.backupId}` : 'to the latest state';

/**
 * Puts the files of a base backup in place of `<cluster>/data`. In place, the current data dir is moved to
 * `data.before-restore` first (kept until the restore succeeded); a resumed step finds it there.
 */
async function restoreFiles(
  repository: BackupRepository,
  cluster: PostgresCluster,
  backupId: string,
  keepOld: boolean,
  delta = false,
): Promise<string> {
  const dir = cluster.options.dir;
  const data = join(dir, 'data');
  const aside = join(dir, 'data.before-restore');
  const staging = join(dir, 'data.restoring');
  if (await cluster.isRunning()) {
    throw new PreconditionFailedError(
      `PostgreSQL of ${cluster.options.name} still runs; it must be stopped to restore.`,
    );
  }
  await mkdir(dir, { recursive: true, mode: 0o711 });
  const o = await owner();
  if (delta && keepOld && existsSync(data) && !existsSync(aside)) {
    // Delta in place: only what differs is rewritten; nothing is set aside (the safety backup holds it).
    let d: DeltaSummary | undefined;
    await restoreBaseBackup({
      repository,
      id: backupId,
      targetDir: data,
      delta: true,
      onDelta: (summary) => (d = summary),
      ...(o ? { owner: o } : {}),
    });
    return `delta restore of ${backupId}: ${d?.filesRewritten ?? 0} of ${d?.filesChecked ?? 0} files rewritten (${Math.round((d?.bytesRewritten ?? 0) / 1048576)} MiB), ${d?.removed ?? 0} removed; all verified`;
  }
  if (keepOld && existsSync(data) && !existsSync(aside)) await rename(data, aside);
  const manifest = await restoreBaseBackup({
    repository,
    id: backupId,
    targetDir: staging,
    ...(o ? { owner: o } : {}),
  });
  await rm(data, { recursive: true, force: true });
  await rename(staging, data);
  return `${manifest.files.length} files of ${backupId} restored and verified`;
}

/** Starts the restored cluster in recovery to the target, waits until it promoted, then finishes setup. */
async function recoverCluster(
  cluster: PostgresCluster,
  source: { key: string; archiveDir: string },
  target: RestoreTarget,
  log: (message: string) => Promise<void>,
  fromWal?: string,
): Promise<string> {
  const { archiveDir } = source;
  const data = join(cluster.options.dir, 'data');
  const recovering = existsSync(join(data, 'recovery.signal'));
  if (recovering && !(await cluster.isRunning()) && fromWal !== undefined) {
    // Check the stored checksums of the WAL this restore reads before starting: a damaged file is named
    // now. (fetch-wal checks every file again, fully, as recovery reads it, and aborts on a mismatch.)
    const segments = (await listArchivedWal(archiveDir)).filter(
      (s) => s.name.length === 24 && s.name.slice(8) >= fromWal.slice(8),
    );
    for (const s of segments) {
      const stored = await readFile(join(archiveDir, `${s.name}.gz`));
      const info = JSON.parse(await readFile(join(archiveDir, `${s.name}.gz.json`), 'utf8')) as {
        storedSha256?: string;
      };
      if (createHash('sha256').update(stored).digest('hex') !== info.storedSha256) {
        throw new PreconditionFailedError(
          `The WAL archive of ${source.key} has a corrupt file: ${s.name}.gz (its sha256 does not match ${s.name}.gz.json); refusing to restore past it. Restore to a time before it, or from a newer backup.`,
          { details: { file: `${s.name}.gz` } },
        );
      }
    }
  }
  if (!existsSync(join(data, 'backup_label')) && !recovering) {
    await cluster.ensure();
    return 'already recovered';
  }
  await cluster.configure();
  if (!(await cluster.isRunning())) {
    const o = await owner();
    await writeRecoveryConfig({
      dataDir: data,
      archiveDir,
      target,
      ...(o ? { owner: o } : {}),
      ...(fromWal ? { fromWal } : {}),
    });
    await log(`starting PostgreSQL in recovery ${describe(target)}`);
    await cluster.start();
  }
  await waitForRecovery({
    inRecovery: async () => (await cluster.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]!.r,
    isRunning: () => cluster.isRunning(),
    logFile: join(cluster.options.dir, 'run', 'postgres.log'),
  });
  for (const sql of await clearRecoverySql(data)) await cluster.query(sql);
  await removeWalSpool(data);
  await cluster.ensure();
  const [tl] = await cluster.query<{ tl: number; at: Date }>(
    'SELECT timeline_id AS tl, now() AS at FROM pg_control_checkpoint()',
  );
  return `recovered ${describe(target)}; promoted (timeline ${tl?.tl ?? '?'})`;
}

/** Whether MSP signs in to the running cluster with the passwords it was created with. */
async function signsIn(cluster: PostgresCluster): Promise<boolean> {
  if (!(await cluster.isRunning())) return false;
  try {
    await cluster.query('SELECT 1');
    return true;
  } catch {
    return false;
  }
}

/**
 * Recovers a clone restored from `from`'s backup. The restored files carry the original's roles and
 * passwords: recovery signs in with the original's admin password, then every role gets the clone's own
 * (admin here, workload and operator by `ensure`) and the original's temporary credentials are dropped,
 * all before the clone serves. A resumed step whose passwords are set already only checks the cluster.
 */
async function recoverClone(
  c: LocalContext,
  cluster: PostgresCluster,
  request: { from: string; target: RestoreTarget; fromWal?: string; backupId?: string },
  log: (message: string) => Promise<void>,
): Promise<string> {
  if (await signsIn(cluster)) {
    await cluster.ensure();
    return "already recovered, with the clone's own passwords";
  }
  const secret = async (name: string) => {
    const value = await c.store.getSecret(request.from, name);
    if (value === undefined)
      throw new PreconditionFailedError(
        `${request.from} has no ${name} secret: its cluster cannot be signed in to.`,
      );
    return value;
  };
  const asOriginal = createPostgresCluster({
    ...cluster.options,
    passwords: {
      admin: await secret('pg-admin'),
      workload: await secret('pg-workload'),
      operator: await secret('pg-operator'),
    },
  });
  const detail = await recoverCluster(
    asOriginal,
    { key: request.from, archiveDir: await sourceArchive(c, request.from, request.backupId) },
    request.target,
    log,
    request.fromWal,
  );
  const admin = CLUSTER_ROLES.admin;
  const own = cluster.options.passwords.admin.replace(/'/g, "''");
  await asOriginal.query(`ALTER ROLE "${admin}" WITH PASSWORD '${own}'`);
  await cluster.ensure();
  const temporary = await cluster.query<{ rolname: string }>(
    `SELECT rolname FROM pg_roles WHERE rolname LIKE 'tmp\\_%'`,
  );
  for (const { rolname } of temporary) await cluster.revokeCredentials(rolname);
  await log("the clone's roles have its own passwords; the original's temporary credentials were dropped");
  return `${detail}; the clone's own passwords set`;
}

/** Every table of every database of the cluster, with its row count (`db.schema.table`). */
async function rowCounts(cluster: PostgresCluster, databases: readonly string[]) {
  const counts: Record<string, number> = {};
  for (const db of databases) {
    const client = new pg.Client({ ...cluster.connectionConfig('admin', db) });
    client.on('error', () => undefined); // a lost connection fails the query instead of the process
    await client.connect();
    try {
      const tables = await client.query<{ t: string }>(
        `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`,
      );
      for (const { t } of tables.rows) {
        counts[`${db}.${t}`] = Number(
          (await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${t}`)).rows[0]!.n,
        );
      }
    } finally {
      await client.end();
    }
  }
  return counts;
}

export function createDatabases(c: LocalContext): Databases {
  const required = async (key: string): Promise<PostgresCluster> => {
    const cluster = await clusterOf(c, key);
    if (!cluster)
      throw new PreconditionFailedError(`${key} has no PostgreSQL (no resources.postgreSQL in its spec).`);
    return cluster;
  };
  return {
    async describe(key) {
      const cluster = await clusterOf(c, key);
      return cluster ? { databases: [...cluster.options.databases] } : undefined;
    },
    async isRunning(key) {
      const cluster = await clusterOf(c, key);
      return cluster ? cluster.isRunning() : false;
    },
    async ensure(key) {
      await (await required(key)).ensure();
    },
    async stop(key, mode = 'fast') {
      c.supervisedDatabases.delete(key);
      await stopWalStream(c, key);
      const cluster = await clusterOf(c, key);
      if (cluster && (await cluster.isRunning())) await cluster.stop(mode);
    },
    async check(key) {
      const cluster = await required(key);
      for (const db of cluster.options.databases) await cluster.query('SELECT 1', [], db);
    },
    async baseBackup(key, request) {
      const cluster = await required(key);
      if (!(await cluster.isRunning())) await cluster.ensure();
      const repository = repositoryOf(c.dataDir, key);
      // Its WAL is in this incarnation's archive: a restore after the deployment was re-created finds it.
      await noteBackupIncarnation(c, key, repository, request.id);
      // runtime-local's base backup always asks PostgreSQL for an immediate checkpoint (fast => true).
      const parent = request.incrementalOf
        ? await readManifest(repository, request.incrementalOf).catch(() => undefined)
        : undefined;
      const manifest = await takeBaseBackup({
        repository,
        id: request.id,
        label: request.label,
        connection: cluster.connectionConfig('admin', 'postgres'),
        dataDir: join(cluster.options.dir, 'data'),
        ...(parent ? { incrementalOf: parent } : {}),
      });
      const check = await verifyBaseBackup(repository, request.id);
      const wal = await verifyArchivedWal(
        cluster.options.archiveDir,
        walSegmentRange(manifest.startWal, manifest.stopWal, manifest.walSegmentSize),
      );
      return {
        finishedAt: manifest.stopTime,
        rawBytes: manifest.rawBytes,
        storedBytes: manifest.storedBytes,
        timeline: manifest.timeline,
        startLsn: manifest.startLsn,
        stopLsn: manifest.stopLsn,
        startWal: manifest.startWal,
        stopWal: manifest.stopWal,
        files: manifest.files.length,
        manifest,
        problems: [...check.problems, ...wal],
        ...(manifest.incremental ? { references: manifest.incremental.references } : {}),
      };
    },
    async verifyBaseBackup(key, id, wal) {
      const r = await verifyBaseBackup(repositoryOf(c.dataDir, key), id);
      const problems = [...r.problems];
      let walSegments = 0;
      if (wal) {
        const names = walSegmentRange(wal.startWal, wal.stopWal);
        const archive = await archiveOfBackup(c.dataDir, key, repositoryOf(c.dataDir, key), id);
        problems.push(...(await verifyArchivedWal(archive, names)));
        walSegments = names.length;
      }
      return { problems, files: r.files, walSegments };
    },
    async deleteBaseBackup(key, id) {
      const repository = repositoryOf(c.dataDir, key);
      await repository.deletePrefix(`base/${id}/`);
      await repository.delete(incarnationObject(id));
      // The WAL of an earlier incarnation of the cluster goes with the last backup that reads it.
      await pruneOldArchives(c, key, repository);
    },
    async walArchive(key) {
      return (await listArchivedWal(await archiveOf(c, key)))
        .filter((s) => /^[0-9A-F]{24}$/.test(s.name))
        .map((s) => ({ name: s.name, walEndTime: s.walEndTime, archivedAt: s.archivedAt }));
    },
    async archiver(key) {
      const cluster = await clusterOf(c, key);
      if (!cluster || !(await cluster.isRunning())) return null;
      const [row] = await cluster.query(ARCHIVER_STATUS_SQL);
      return row ? toArchiverStatus(row) : null;
    },
    async deleteWal(key, segments) {
      await deleteArchivedWal(await archiveOf(c, key), segments);
    },
    async restoreBaseBackup(key, request) {
      const cluster = await required(key);
      if (await cluster.isRunning()) await cluster.stop('fast');
      return restoreFiles(
        repositoryOf(c.dataDir, request.from),
        cluster,
        request.backupId,
        request.inPlace,
        request.delta === true,
      );
    },
    async recover(key, request, log) {
      const cluster = await required(key);
      if (request.from !== key) return recoverClone(c, cluster, request, log);
      return recoverCluster(
        cluster,
        { key: request.from, archiveDir: await sourceArchive(c, request.from, request.backupId) },
        request.target,
        log,
        request.fromWal,
      );
    },
    async restorePrevious(key) {
      const cluster = await clusterOf(c, key);
      if (!cluster) return false;
      const dir = cluster.options.dir;
      const aside = join(dir, 'data.before-restore');
      if (!existsSync(aside)) return false;
      await cluster.stop('immediate').catch(() => undefined);
      await rm(join(dir, 'data'), { recursive: true, force: true });
      await rename(aside, join(dir, 'data'));
      await cluster.ensure();
      return true;
    },
    async discardPrevious(key) {
      const cluster = await clusterOf(c, key);
      if (cluster)
        await rm(join(cluster.options.dir, 'data.before-restore'), { recursive: true, force: true });
    },
    async drill(key, request, log) {
      const original = await required(key);
      const scratchDir = join(c.dataDir.root, 'drills', slugOf(key));
      const scratchArchive = join(c.dataDir.root, 'drills', `${slugOf(key)}-archive`);
      const scratch = createPostgresCluster({
        ...original.options,
        name: `drill-${slugOf(key)}`,
        dir: scratchDir,
        port: await findFreePort(),
        archiveDir: scratchArchive,
      });
      try {
        await scratch.stop('immediate').catch(() => undefined);
        await rm(scratchDir, { recursive: true, force: true });
        await restoreFiles(repositoryOf(c.dataDir, key), scratch, request.backupId, false);
        await recoverCluster(
          scratch,
          { key, archiveDir: await sourceArchive(c, key, request.backupId) },
          { kind: 'latest' },
          log,
          request.startWal,
        );
        const databases = (
          await scratch.query<{ datname: string }>('SELECT datname FROM pg_database WHERE NOT datistemplate')
        ).map((r) => r.datname);
        const missing = original.options.databases.filter((d) => !databases.includes(d));
        if (missing.length > 0)
          throw new PreconditionFailedError(`databases missing after the restore: ${missing.join(', ')}`);
        return { databases, rowCounts: await rowCounts(scratch, original.options.databases) };
      } finally {
        await scratch.stop('immediate').catch(() => undefined);
        await rm(scratchDir, { recursive: true, force: true });
        await rm(scratchArchive, { recursive: true, force: true });
      }
    },
  };
}
