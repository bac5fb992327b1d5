import { InputError } from '@msp/core';
import { assertSchemaName, DEFAULT_SCHEMA } from './migrate.js';

/** What the service needs from its environment (the MSP runtime contract plus its own token). */
export interface ServerConfig {
  readonly port: number;
  /** Interface to listen on; all interfaces when undefined. */
  readonly host: string | undefined;
  readonly diagnosticsSecret: string;
  readonly token: string;
  readonly schema: string;
  readonly database: {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string | undefined;
    readonly database: string;
  };
  /** How long to wait for the database at start before giving up (PGCONNECT_TIMEOUT, seconds). */
  readonly connectTimeoutSeconds: number;
}

type Env = Readonly<Record<string, string | undefined>>;

function portOf(name: string, value: string, problems: string[]): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < 1 || n > 65535) {
    problems.push(`${name}="${value}" is not a TCP port; set it to a number from 1 to 65535`);
  }
  return n;
}

/** Reads and checks every variable at once, so a misconfigured deployment learns everything it lacks. */
export function configFromEnv(env: Env): ServerConfig {
  const problems: string[] = [];
  const need = (name: string, what: string): string => {
    const value = env[name];
    if (value === undefined || value === '') {
      problems.push(`${name} is not set (${what})`);
      return '';
    }
    return value;
  };
  const portText = need('PORT', 'the port to serve HTTP on');
  const diagnosticsSecret = need('DIAGNOSTICS_SECRET', 'the bearer secret /-/healthz answers to');
  const token = need('RELEASE_REGISTRY_TOKEN', 'the bearer token that writes must carry');
  const host = need('PGHOST', 'the PostgreSQL host');
  const user = need('PGUSER', 'the PostgreSQL user');
  // The platform hands in one variable per database; prefer ours over the generic one.
  const database = env.PGDATABASE_RELEASEREGISTRY || env.PGDATABASE || '';
  if (database === '')
    problems.push('PGDATABASE_RELEASEREGISTRY or PGDATABASE is not set (the database name)');
  const port = portText === '' ? 0 : portOf('PORT', portText, problems);
  const pgPort = portOf('PGPORT', env.PGPORT || '5432', problems);
  const schema = env.RELEASE_REGISTRY_SCHEMA || DEFAULT_SCHEMA;
  try {
    assertSchemaName(schema);
  } catch (error) {
    problems.push(`RELEASE_REGISTRY_SCHEMA: ${(error as Error).message}`);
  }
  const timeoutText = env.PGCONNECT_TIMEOUT || '10';
  const connectTimeoutSeconds = Number(timeoutText);
  if (!(connectTimeoutSeconds > 0)) {
    problems.push(`PGCONNECT_TIMEOUT="${timeoutText}" is not a positive number of seconds`);
  }
  if (problems.length > 0) {
    throw new InputError(`incomplete environment: ${problems.join('; ')}`);
  }
  return {
    port,
    host: env.HOST || undefined,
    diagnosticsSecret,
    token,
    schema,
    database: { host, port: pgPort, user, password: env.PGPASSWORD, database },
    connectTimeoutSeconds,
  };
}
