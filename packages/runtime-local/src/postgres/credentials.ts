/**
 * Temporary credentials: `tmp_<16 hex>` login roles that expire (VALID UNTIL), members of the operator
 * role (read) or of the workload role (write, acting as it). Expired ones are dropped by
 * `revokeExpiredCredentials`, which ends their open sessions too.
 */
import { randomBytes } from 'node:crypto';
import { InputError } from '@msp/core';
import { CLUSTER_ROLES, type AdminSession } from './roles.js';
import { scramVerifier } from './scram.js';
import { ident, literal } from './sql.js';

export interface TemporaryCredentials {
  user: string;
  password: string;
  /** When login stops working: every temporary credential has one. */
  validUntil: Date;
}

export const TEMP_ROLE_PATTERN = /^tmp_[0-9a-f]{16}$/;

/**
 * Shortest lifetime of a temporary credential, in seconds: a shorter one (a timeout that rounds to 0,
 * e.g. "400ms") is refused, never minted without an expiry. 1 s is enough to sign in once.
 */
export const MIN_CREDENTIAL_VALIDITY_SECONDS = 1;
/** Longest lifetime of a temporary credential, in seconds (one year). */
export const MAX_CREDENTIAL_VALIDITY_SECONDS = 366 * 24 * 3600;

export async function mintTemporaryCredentials(
  admin: AdminSession,
  opts: { access: 'read' | 'write'; validFor: number },
): Promise<TemporaryCredentials> {
  const validFor = opts.validFor;
  if (
    typeof validFor !== 'number' ||
    !Number.isFinite(validFor) ||
    validFor < MIN_CREDENTIAL_VALIDITY_SECONDS ||
    validFor > MAX_CREDENTIAL_VALIDITY_SECONDS
  ) {
    throw new InputError(
      `A temporary credential must expire: its validity ${String(validFor)} s is out of range; give ` +
        `${MIN_CREDENTIAL_VALIDITY_SECONDS} to ${MAX_CREDENTIAL_VALIDITY_SECONDS} seconds (at least 1 s; there is no unlimited credential).`,
      { details: { validFor: String(validFor), minSeconds: MIN_CREDENTIAL_VALIDITY_SECONDS } },
    );
  }
  const user = `tmp_${randomBytes(8).toString('hex')}`;
  const password = randomBytes(24).toString('base64url');
  const validUntil = new Date(Date.now() + validFor * 1000);
  const member = opts.access === 'write' ? CLUSTER_ROLES.workload : CLUSTER_ROLES.operator;
  await admin('postgres', async (client) => {
    await client.query('BEGIN');
    try {
      await client.query(
        `CREATE ROLE ${ident(user)} WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION ` +
          `PASSWORD ${literal(scramVerifier(password))} VALID UNTIL ${literal(validUntil.toISOString())} ` +
          `IN ROLE ${ident(member)}`,
      );
      // Read: the operator's privileges (SELECT only) make it read-only, so a write fails with
      // "permission denied". default_transaction_read_only is deliberately not set: it would turn that
      // into "cannot execute INSERT in a read-only transaction" and add no protection on top.
      // Write: act as the workload role, so objects created through the credential belong to it.
      if (opts.access === 'write')
        await client.query(`ALTER ROLE ${ident(user)} SET role = ${literal(member)}`);
      await client.query(
        `COMMENT ON ROLE ${ident(user)} IS ${literal(
          `MSP temporary ${opts.access} credential` +
            (validUntil ? ` until ${validUntil.toISOString()}` : ''),
        )}`,
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
  });
  return { user, password, validUntil };
}

/** Drops every temporary role past its VALID UNTIL, ending its sessions. Returns how many. */
export async function revokeExpiredCredentials(admin: AdminSession): Promise<number> {
  const expired = await admin('postgres', async (client) => {
    const result = await client.query<{ rolname: string }>(
      `SELECT rolname FROM pg_roles
        WHERE rolname LIKE 'tmp\\_%' AND rolvaliduntil IS NOT NULL AND rolvaliduntil <= now()`,
    );
    return result.rows;
  });
  let count = 0;
  for (const { rolname } of expired) {
    if (TEMP_ROLE_PATTERN.test(rolname) && (await revokeCredentials(admin, rolname))) count += 1;
  }
  return count;
}

/** Drops one temporary role now, ending its sessions. False when it did not exist. */
export async function revokeCredentials(admin: AdminSession, user: string): Promise<boolean> {
  if (!TEMP_ROLE_PATTERN.test(user)) {
    throw new InputError(
      `"${user}" is not a temporary credential (tmp_<16 hex digits>); only those can be revoked.`,
    );
  }
  const databases = await admin('postgres', async (client) => {
    const found = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
    if (found.rowCount === 0) return undefined;
    await client.query(`ALTER ROLE ${ident(user)} NOLOGIN`);
    await client.query('SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE usename = $1', [
      user,
    ]);
    const result = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate',
    );
    return result.rows.map((r) => r.datname);
  });
  if (databases === undefined) return false;
  for (const datname of databases) {
    await admin(datname, async (client) => {
      await client.query(`REASSIGN OWNED BY ${ident(user)} TO ${ident(CLUSTER_ROLES.workload)}`);
      await client.query(`DROP OWNED BY ${ident(user)}`);
    });
  }
  await admin('postgres', (client) => client.query(`DROP ROLE IF EXISTS ${ident(user)}`));
  return true;
}
