/**
 * Forward-only, numbered plain-SQL migrations, applied in one transaction under an advisory lock: a second
 * control plane starting at the same time waits, then finds nothing left to do (success, not an error).
 */
import { readdir, readFile } from 'node:fs/promises';
import type { Pool } from 'pg';

const LOCK_ID = 7_203_114; // arbitrary, stable: "msp state migrations"

export async function migrateState(pool: Pool, migrationsDir: string): Promise<string[]> {
  const files = (await readdir(migrationsDir)).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort();
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock($1)', [LOCK_ID]);
    await client.query(
      'create table if not exists schema_migrations (name text primary key, applied_at timestamptz not null default now())',
    );
    const done = new Set(
      (await client.query<{ name: string }>('select name from schema_migrations')).rows.map((r) => r.name),
    );
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      await client.query(await readFile(new URL(file, `file://${migrationsDir}/`), 'utf8'));
      await client.query('insert into schema_migrations (name) values ($1)', [file]);
      applied.push(file);
    }
    await client.query('commit');
    return applied;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
