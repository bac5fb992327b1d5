/**
 * Forward-only, numbered plain-SQL migrations. The control plane's own tables (`core`, state/migrations/)
 * and each feature module's tables (its own `migrations/` folder) are separate sets, tracked per owner in
 * `schema_migrations (module, name)`, and applied together in one transaction under an advisory lock: a
 * second control plane starting at the same time waits, then finds nothing left to do (success, not an
 * error).
 *
 * Numbers are never reused: core's 003 and 004 moved to the backups and rollouts modules (`formerly`), so
 * core continues at 005.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PreconditionFailedError } from '@msp/core';
import type { Db } from './db.js';

const LOCK_ID = 7_203_114; // arbitrary, stable: "msp state migrations"
const FILE = /^(\d{3})_[a-z0-9_]+\.sql$/;

/** One owner's migrations. */
export interface MigrationSet {
  /** `core` for the control plane's own tables, else the feature module's name. */
  readonly module: string;
  /** A folder of `NNN_description.sql` files, applied in order. */
  readonly folder: URL;
  /**
   * Migrations of this set that earlier versions applied as shared core migrations: its name → the old
   * core name (`{ '001_backups.sql': '003_backups.sql' }`). A database migrated then is recognised, so
   * nothing is applied twice.
   */
  readonly formerly?: Readonly<Record<string, string>>;
}

/**
 * The `migrations/` folder beside a compiled module (`import.meta.url`). The build copies the .sql files
 * into dist (scripts/copy-migrations.mjs); in a source checkout the folder under src is the truth, since
 * `tsc -b` alone copies nothing and a stale dist copy could lack a new migration.
 */
export function migrationsBeside(moduleUrl: string): URL {
  const built = new URL('./migrations/', moduleUrl);
  const source = new URL(built.href.replace(/\/dist\/(?!.*\/dist\/)/, '/src/'));
  return source.href !== built.href && existsSync(fileURLToPath(source)) ? source : built;
}

async function filesOf(set: MigrationSet): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(set.folder);
  } catch (error) {
    throw new PreconditionFailedError(
      `The ${set.module} migrations are missing (${fileURLToPath(set.folder)}): rebuild with \`npm run build\`.`,
      { cause: error },
    );
  }
  const sql = names.filter((f) => f.endsWith('.sql')).sort();
  const seen = new Map<string, string>();
  for (const file of sql) {
    const match = FILE.exec(file);
    if (!match) {
      throw new PreconditionFailedError(
        `Migration ${file} of ${set.module} is misnamed: name it NNN_description.sql (lowercase, e.g. 005_add_index.sql).`,
      );
    }
    const other = seen.get(match[1]!);
    if (other) {
      throw new PreconditionFailedError(
        `Migrations ${other} and ${file} of ${set.module} share the number ${match[1]}: renumber the newer one.`,
      );
    }
    seen.set(match[1]!, file);
  }
  return sql;
}

/** Brings the tracking table of earlier versions (`name` only, all core) to one row per (module, name). */
async function ensureTrackingTable(tx: Db): Promise<void> {
  await tx.query(
    `create table if not exists schema_migrations (
       module text not null default 'core',
       name text not null,
       applied_at timestamptz not null default now(),
       primary key (module, name)
     )`,
  );
  const hasModule = await tx.query(
    `select 1 from information_schema.columns
     where table_schema = current_schema() and table_name = 'schema_migrations' and column_name = 'module'`,
  );
  if (hasModule.rowCount === 0) {
    await tx.query(`alter table schema_migrations add column module text not null default 'core'`);
    await tx.query('alter table schema_migrations drop constraint schema_migrations_pkey');
    await tx.query('alter table schema_migrations add primary key (module, name)');
  }
}

/** Applies what is missing; returns what this call applied as `module/name` (empty when nothing was). */
export async function migrateState(db: Db, sets: readonly MigrationSet[]): Promise<string[]> {
  const owners = sets.map((s) => s.module);
  const twice = owners.find((o, i) => owners.indexOf(o) !== i);
  if (twice) {
    throw new PreconditionFailedError(
      `Two sets of migrations are owned by "${twice}": give each feature module its own name.`,
    );
  }
  const plan = await Promise.all(sets.map(async (set) => ({ set, files: await filesOf(set) })));
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [LOCK_ID]);
    await ensureTrackingTable(tx);
    const applied: string[] = [];
    for (const { set, files } of plan) {
      for (const [name, old] of Object.entries(set.formerly ?? {})) {
        await tx.query(
          `update schema_migrations set module = $1, name = $2 where module = 'core' and name = $3`,
          [set.module, name, old],
        );
      }
      const done = new Set(
        (
          await tx.query<{ name: string }>('select name from schema_migrations where module = $1', [
            set.module,
          ])
        ).rows.map((r) => r.name),
      );
      for (const file of files) {
        if (done.has(file)) continue;
        await tx.query(await readFile(new URL(file, set.folder), 'utf8'));
        await tx.query('insert into schema_migrations (module, name) values ($1, $2)', [set.module, file]);
        applied.push(`${set.module}/${file}`);
      }
    }
    return applied;
  });
}

/** The control plane's own tables. */
export const CORE_MIGRATIONS: MigrationSet = {
  module: 'core',
  folder: migrationsBeside(import.meta.url),
};
