// Database access shared by server.js and migrate.js: the connection from the MSP runtime contract,
// and forward-only migrations (migrations/NNN_*.sql), each applied once in its own transaction under an
// advisory lock.
import { readdir, readFile } from 'node:fs/promises';
import pg from 'pg';

export function databaseConfig(env = process.env) {
  const database = env.PGDATABASE_SAMPLEPRODUCT || env.PGDATABASE;
  const missing = ['PGHOST', 'PGUSER'].filter((name) => !env[name]);
  if (!database) missing.push('PGDATABASE_SAMPLEPRODUCT or PGDATABASE');
  if (missing.length > 0) throw new Error(`incomplete environment: ${missing.join(', ')} not set`);
  return {
    host: env.PGHOST,
    port: Number(env.PGPORT || 5432),
    user: env.PGUSER,
    password: env.PGPASSWORD,
    database,
    connectionTimeoutMillis: 5000,
  };
}

export async function migrate(pool, onApplied = () => undefined) {
  const dir = new URL('./migrations/', import.meta.url);
  const files = (await readdir(dir)).filter((f) => /^[0-9]{3}_.+\.sql$/.test(f)).sort();
  const client = await pool.connect();
  try {
    // Several instances (or the migrator job and an instance) may start together: one migrates, the rest wait.
    await client.query("SELECT pg_advisory_lock(hashtext('sampleproduct.migrate'))");
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set((await client.query('SELECT name FROM schema_migrations')).rows.map((r) => r.name));
    const applied = [];
    // One transaction per migration, as most migration tools do: a failing one leaves the ones before it
    // applied (the database is then half-migrated; the pre-upgrade backup is what brings it back).
    for (const file of files.filter((f) => !done.has(f))) {
      await client.query('BEGIN');
      try {
        await client.query(await readFile(new URL(file, dir), 'utf8'));
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw Object.assign(new Error(`${file}: ${error.message}`), { applied });
      }
      applied.push(file);
      onApplied(file);
    }
    return applied;
  } finally {
    await client.query("SELECT pg_advisory_unlock(hashtext('sampleproduct.migrate'))").catch(() => undefined);
    client.release();
  }
}

export function createPool(env = process.env) {
  const pool = new pg.Pool(databaseConfig(env));
  pool.on('error', (error) => console.error(`idle database connection failed: ${error.message}`));
  return pool;
}
