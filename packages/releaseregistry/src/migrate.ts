import { readdir, readFile } from 'node:fs/promises';
import { InputError, PreconditionFailedError } from '@msp/core';
import { registryDbOf, type Database } from './db.js';

/**
 * Forward-only, numbered plain-SQL migrations (`src/migrations/NNN_name.sql`), applied in one transaction
 * under a transaction-scoped advisory lock, so several replicas (or a control plane and a service) may
 * start at once: the first applies them, the others wait, find them applied, and carry on.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const DEFAULT_SCHEMA = 'releaseregistry';

/** Read from the package's `src/migrations`, beside `dist/` (shipped with the package: see `files`). */
const MIGRATIONS_DIR = new URL('../src/migrations/', import.meta.url);

const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertSchemaName(schema: string): void {
  if (!SCHEMA_PATTERN.test(schema)) {
    throw new InputError(
      `schema: "${schema}" is not a valid schema name; use lowercase letters, digits and underscores (e.g. "${DEFAULT_SCHEMA}")`,
    );
  }
}

/** A double-quoted SQL identifier. Names are validated first; quoting is the second guard. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = /^([0-9]{3})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) {
      throw new PreconditionFailedError(
        `migration file ${file} is misnamed; name it NNN_description.sql (e.g. 002_add_index.sql)`,
      );
    }
    const version = Number(match[1]);
    const previous = migrations.at(-1);
    if (version !== (previous?.version ?? 0) + 1) {
      throw new PreconditionFailedError(
        `migration ${file} breaks the sequence; migrations must be numbered 001, 002, ... without gaps or repeats`,
      );
    }
    migrations.push({ version, name: match[2] ?? file, sql: await readFile(new URL(file, dir), 'utf8') });
  }
  return migrations;
}

export interface MigrationResult {
  /** Versions this call applied; empty when another replica got there first. */
  readonly applied: number[];
  readonly current: number;
}

/** Brings `schema` up to date. Safe to call from several processes at once. */
export async function migrateReleaseRegistry(
  database: Database,
  schema: string = DEFAULT_SCHEMA,
  migrations?: readonly Migration[],
): Promise<MigrationResult> {
  assertSchemaName(schema);
  const all = migrations ?? (await loadMigrations());
  const s = quoteIdent(schema);
  return registryDbOf(database).transaction(async (tx) => {
    // One lock per schema: the key is derived from its name, in a class of its own.
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('msp.releaseregistry.migrate'), hashtext($1))`, [
      schema,
    ]);
    // Only create the schema when missing: a role that may use an existing schema need not be able to create one.
    const exists = await tx.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema]);
    if (exists.rowCount === 0) await tx.query(`CREATE SCHEMA ${s}`);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const done = await tx.query<{ version: number }>(`SELECT version FROM ${s}.schema_migrations`);
    const appliedBefore = new Set(done.rows.map((r) => r.version));
    await tx.query(`SET LOCAL search_path TO ${s}`);
    const applied: number[] = [];
    for (const m of all) {
      if (appliedBefore.has(m.version)) continue;
      await tx.query(m.sql);
      await tx.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [
        m.version,
        m.name,
      ]);
      applied.push(m.version);
    }
    // A newer replica may have applied migrations this code does not know; forward-only means that is fine.
    const current = Math.max(0, ...appliedBefore, ...applied);
    return { applied, current };
  });
}
