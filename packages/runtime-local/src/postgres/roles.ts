/**
 * The cluster's login roles, its databases and their grants (shared/REFERENCE.md §1): set up
 * idempotently by every ensure(). Passwords reach PostgreSQL only as SCRAM verifiers computed here.
 */
import type pg from 'pg';
import { scramMatches, scramVerifier } from './scram.js';
import { ident, literal } from './sql.js';

/** The three login roles of every cluster (shared/REFERENCE.md §1). */
export const CLUSTER_ROLES = {
  /** Superuser, for MSP only (the bootstrap superuser created by initdb). */
  admin: 'msp_admin',
  /** The workload's role: owns the spec's databases, full rights; handed to the service. */
  workload: 'app',
  /** Read-only: CONNECT on each database, USAGE + SELECT on what the workload creates. */
  operator: 'operator',
} as const;
export type ClusterRole = keyof typeof CLUSTER_ROLES;

/** Runs `work` on an admin (superuser) connection to `database`, closed afterwards. */
export type AdminSession = <T>(database: string, work: (client: pg.Client) => Promise<T>) => Promise<T>;

/** Key for pg_advisory_lock while setting up roles, so two MSP processes do not race. */
const SETUP_LOCK_KEY = 7_305_001;

/**
 * Creates the workload and operator roles, sets every role's password (only when it differs), creates
 * the databases owned by the workload role and grants the operator read access in each.
 */
export async function setUpRolesAndDatabases(
  admin: AdminSession,
  wanted: { databases: readonly string[]; passwords: { admin: string; workload: string; operator: string } },
): Promise<void> {
  const { workload, operator } = CLUSTER_ROLES;
  await admin('postgres', async (client) => {
    await client.query('SELECT pg_advisory_lock($1)', [SETUP_LOCK_KEY]);
    try {
      for (const role of [workload, operator]) {
        const found = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
        if (found.rowCount === 0) await client.query(`CREATE ROLE ${ident(role)}`);
        await client.query(
          `ALTER ROLE ${ident(role)} WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`,
        );
      }
      await setPasswords(client, wanted.passwords);
      for (const db of wanted.databases) {
        const row = await client.query<{ owner: string }>(
          'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1',
          [db],
        );
        if (row.rowCount === 0) {
          await client.query(`CREATE DATABASE ${ident(db)} OWNER ${ident(workload)}`);
        } else if (row.rows[0]?.owner !== workload) {
          await client.query(`ALTER DATABASE ${ident(db)} OWNER TO ${ident(workload)}`);
        }
        await client.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${ident(db)} FROM PUBLIC`);
        await client.query(`GRANT CONNECT ON DATABASE ${ident(db)} TO ${ident(operator)}`);
        await admin(db, (dbClient) => grantOperatorRead(dbClient));
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [SETUP_LOCK_KEY]);
    }
  });
}

/** Sets each role's password as a SCRAM verifier, leaving one that already matches untouched. */
async function setPasswords(
  client: pg.Client,
  passwords: { admin: string; workload: string; operator: string },
): Promise<void> {
  const want: Record<string, string> = {
    [CLUSTER_ROLES.admin]: passwords.admin,
    [CLUSTER_ROLES.workload]: passwords.workload,
    [CLUSTER_ROLES.operator]: passwords.operator,
  };
  const stored = await client.query<{ rolname: string; rolpassword: string | null }>(
    'SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY($1)',
    [Object.keys(want)],
  );
  for (const [role, password] of Object.entries(want)) {
    const current = stored.rows.find((r) => r.rolname === role)?.rolpassword ?? null;
    if (current === null || !scramMatches(password, current)) {
      await client.query(`ALTER ROLE ${ident(role)} WITH PASSWORD ${literal(scramVerifier(password))}`);
    }
  }
}

/**
 * USAGE + SELECT for the operator on everything the workload role owns in this database, now and
 * later (default privileges), in `public` and in any schema the workload creates.
 */
async function grantOperatorRead(client: pg.Client): Promise<void> {
  const { workload, operator } = CLUSTER_ROLES;
  const op = ident(operator);
  const app = ident(workload);
  const schemas = await client.query<{ nspname: string }>(
    `SELECT nspname FROM pg_namespace
      WHERE nspname = 'public' OR nspowner = (SELECT oid FROM pg_roles WHERE rolname = $1)`,
    [workload],
  );
  for (const { nspname } of schemas.rows) {
    await client.query(`GRANT USAGE ON SCHEMA ${ident(nspname)} TO ${op}`);
    await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${ident(nspname)} TO ${op}`);
    await client.query(`GRANT SELECT ON ALL SEQUENCES IN SCHEMA ${ident(nspname)} TO ${op}`);
  }
  await client.query(
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${app} IN SCHEMA public GRANT SELECT ON TABLES TO ${op}`,
  );
  await client.query(
    `ALTER DEFAULT PRIVILEGES FOR ROLE ${app} IN SCHEMA public GRANT SELECT ON SEQUENCES TO ${op}`,
  );
  await client.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${app} GRANT SELECT ON TABLES TO ${op}`);
  await client.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${app} GRANT SELECT ON SEQUENCES TO ${op}`);
  await client.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${app} GRANT USAGE ON SCHEMAS TO ${op}`);
}
