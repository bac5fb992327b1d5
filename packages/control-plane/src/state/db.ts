/**
 * The narrow database handle a feature module gets (never the pool): run a statement, or run several in one
 * transaction. The one-method port of pg-boss (`executeSql`), plus the transaction a store needs.
 */
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { guardedQuery, stateDatabaseError } from './unavailable.js';

export interface DbResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Db {
  query<R extends QueryResultRow = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<DbResult<R>>;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
}

type Runner = Pick<Pool | PoolClient, 'query'>;

async function run<R extends QueryResultRow>(
  on: Runner,
  text: string,
  params: readonly unknown[] = [],
): Promise<DbResult<R>> {
  const r = await on.query<R>(text, params as unknown[]);
  return { rows: r.rows, rowCount: r.rowCount ?? 0 };
}

/** Inside a transaction: statements run on its connection; a nested transaction joins the outer one. */
function onClient(client: PoolClient): Db {
  const tx: Db = {
    query: (text, params) => run({ query: guardedQuery(client) }, text, params),
    transaction: (fn) => fn(tx),
  };
  return tx;
}

/** Over the pool; a failed connection is an UnavailableError (unavailable.ts), a failed statement itself. */
export function createDb(pool: Pool): Db {
  const guarded = { query: guardedQuery(pool) };
  return {
    query: (text, params) => run(guarded, text, params),
    async transaction(fn) {
      const client = await pool.connect().catch((error: unknown) => {
        throw stateDatabaseError(error);
      });
      // A checked-out client has no error listener of the pool's: a connection lost between statements
      // (the state database killed) would be an unhandled 'error' event and end the process. Heard here,
      // the next statement fails (as a 503) and the broken client leaves the pool.
      let lost: Error | undefined;
      const onLost = (error: Error) => (lost ??= error);
      client.on('error', onLost);
      try {
        await client.query('begin');
        const result = await fn(onClient(client));
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.removeListener('error', onLost);
        client.release(lost);
      }
    },
  };
}
