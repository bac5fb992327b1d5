/**
 * What the registry needs of a database: a statement, or several in one transaction. A pg Pool (the
 * standalone service) fits, and so does the narrow handle a host gives its modules (the control plane's
 * `ctx.db`), so an embedding host never hands over its pool.
 */
import type { Pool, QueryResultRow } from 'pg';

export interface RegistryDb {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
  transaction<T>(fn: (tx: RegistryDb) => Promise<T>): Promise<T>;
}

export type Database = Pool | RegistryDb;

export function registryDbOf(db: Database): RegistryDb {
  if ('transaction' in db) return db;
  const pool = db;
  return {
    query: (text, params) => pool.query(text, params),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const tx: RegistryDb = {
          query: (text, params) => client.query(text, params),
          transaction: (inner) => inner(tx),
        };
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
  };
}
