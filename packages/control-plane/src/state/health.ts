/**
 * Whether the state database answers: `SELECT 1` on a connection of its own within a short timeout, so a
 * dead, crashed or hung PostgreSQL is noticed even while the pool is busy. One check at a time, its result
 * reused for half a second, so an unauthenticated /-/healthz cannot flood the database with connections.
 */
import pg from 'pg';
import { UnavailableError } from '@msp/core';

export type HealthCheck = () => Promise<UnavailableError | undefined>;

export function stateDatabaseHealth(connectionString: string, timeoutMs = 2000): HealthCheck {
  let inFlight: Promise<UnavailableError | undefined> | undefined;
  let last: { at: number; result: UnavailableError | undefined } | undefined;
  const probe = async (): Promise<UnavailableError | undefined> => {
    const client = new pg.Client({
      connectionString,
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch (error) {
      return new UnavailableError(
        `The control plane's state database does not answer "SELECT 1" within ${timeoutMs / 1000} s ` +
          `(${(error as Error).message}). An embedded one is restarted by the control plane itself; ` +
          'for an external one (DATABASE_URL), check that its PostgreSQL is up and reachable.',
        { details: { component: 'state-database' } },
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  return () => {
    if (last && Date.now() - last.at < 500) return Promise.resolve(last.result);
    inFlight ??= probe()
      .then((result) => {
        last = { at: Date.now(), result };
        return result;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}
