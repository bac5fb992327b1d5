/**
 * The state database's connection failures, as the error vocabulary says them: a refused or dropped
 * connection, a server shutting down, crashed or still recovering, too many connections. The store and the
 * Db handle rethrow them as UnavailableError (HTTP 503, retryable), never as an internal error.
 */
import type { Pool } from 'pg';
import { MspError, TRANSIENT_SYSTEM_CODES, UnavailableError } from '@msp/core';

// A host name that does not resolve is no better than one that does not answer.
const systemCodes = new Set([...TRANSIENT_SYSTEM_CODES, 'ENOTFOUND']);
// pg's own messages for a connection that is gone or never came (they carry no code).
const clientMessages =
  /Connection terminated|not queryable|timeout exceeded when trying to connect|Cannot use a pool after calling end/i;

/** A connection to the state database failed or broke (as opposed to a statement that failed). */
export function isConnectionFailure(error: unknown): boolean {
  if (error instanceof MspError || !(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    // SQLSTATE 08 connection exception, 57P01–57P05 shutdown/crash/cannot connect now, 53300 too many connections.
    return systemCodes.has(code) || /^(08|57P)/.test(code) || code === '53300';
  }
  return clientMessages.test(error.message);
}

/** The error to throw for `error`: an UnavailableError naming the state database when the connection failed. */
export function stateDatabaseError(error: unknown): unknown {
  if (!isConnectionFailure(error)) return error;
  return new UnavailableError(
    `The control plane's state database is not answering (${(error as Error).message}). ` +
      'Retry in a few seconds: an embedded state database is restarted by the control plane itself; ' +
      'an external one (DATABASE_URL) must be brought back by whoever runs it.',
    { cause: error },
  );
}

/** `query` of a pool or a client, whose connection failures are UnavailableErrors. */
export function guardedQuery<Q extends Pool['query']>(on: { query: Q }): Q {
  const query = on.query.bind(on) as (...a: unknown[]) => Promise<unknown>;
  return ((...args: unknown[]) =>
    query(...args).catch((error: unknown) => {
      throw stateDatabaseError(error);
    })) as Q;
}
