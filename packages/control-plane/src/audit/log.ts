/**
 * The audit log: append-only and hash-chained. Record n carries `prev_hash` = record n-1's `hash`, and
 * `hash` = SHA-256 over `prev_hash` and the canonical JSON of the record (keys sorted), so editing,
 * removing or inserting a record breaks the chain there. Appends are serialised by an advisory lock (one
 * chain, whichever control plane writes); verification reads the log in pages and names the first record
 * whose chain breaks.
 */
import { createHash } from 'node:crypto';
import { migrationsBeside, type MigrationSet } from '../state/migrate.js';
import type { Db } from '../state/db.js';

export const AUDIT_MIGRATIONS: MigrationSet = { module: 'audit', folder: migrationsBeside(import.meta.url) };

const LOCK_ID = 7_203_115; // "msp audit chain"
export const GENESIS = '0'.repeat(64);

export interface AuditEntry {
  actor: string;
  /** What happened: `api.post`, `operation.step`, `sign-in`, `access.approve`, `config.change`, … */
  action: string;
  /** What it happened to: a deployment key, a route, a request id. */
  target?: string | null;
  data?: Record<string, unknown>;
}

export interface AuditRecord extends Required<AuditEntry> {
  seq: number;
  at: string;
  prevHash: string;
  hash: string;
}

export interface VerifyResult {
  ok: boolean;
  records: number;
  /** The hash of the last record checked: what evidence cut from the log names. */
  head: string;
  /** The first record whose chain breaks, and how. */
  broken?: { seq: number; problem: string };
}

export interface AuditLog {
  append(entry: AuditEntry): Promise<AuditRecord>;
  list(filter?: {
    since?: Date;
    until?: Date;
    actor?: string;
    action?: string;
    limit?: number;
  }): Promise<AuditRecord[]>;
  verify(): Promise<VerifyResult>;
  /** The latest record's seq and hash (GENESIS when empty). */
  head(): Promise<{ seq: number; hash: string }>;
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function hashOf(r: Omit<AuditRecord, 'hash'>): string {
  const body = canonicalJson({
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    data: r.data,
  });
  return createHash('sha256').update(r.prevHash).update('\n').update(body).digest('hex');
}

/**
 * Text as PostgreSQL stores it: a NUL byte (which it rejects, in text and jsonb alike) becomes ␀ and a lone
 * surrogate (which jsonb rejects) becomes U+FFFD. A refused request with a NUL in its path is recorded,
 * and cannot fail the group commit of the records written with it.
 */
export function storableText(s: string): string {
  return s
    .replaceAll('\u0000', '\u2400')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

function storableData(data: Record<string, unknown> | undefined): Record<string, unknown> {
  const json = JSON.stringify(data ?? {}, (_key, v: unknown) => {
    if (typeof v === 'string') return storableText(v);
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date))
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [storableText(k), x]));
    return v;
  });
  return JSON.parse(json) as Record<string, unknown>;
}

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));

function toRecord(r: Record<string, unknown>): AuditRecord {
  return {
    seq: Number(r.seq),
    at: iso(r.at),
    actor: r.actor as string,
    action: r.action as string,
    target: (r.target as string | null) ?? null,
    data: r.data as Record<string, unknown>,
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
  };
}

const shared = new WeakMap<Db, AuditLog>();

/** The audit log over a state database: one per database handle (modules share its group commit). */
export function createAuditLog(db: Db): AuditLog {
  let existing = shared.get(db);
  if (!existing) shared.set(db, (existing = auditLogOver(db)));
  return existing;
}

function auditLogOver(db: Db): AuditLog {
  // Group commit: appends that arrive while a batch is being written go together in the next one (one
  // transaction, one lock, one insert), so many writers at once cost little more than one.
  let queue: Array<{ entry: AuditEntry; done: (r: AuditRecord) => void; fail: (e: unknown) => void }> = [];
  let writing = false;
  const flush = async (): Promise<void> => {
    if (writing || queue.length === 0) return;
    writing = true;
    const batch = queue.slice(0, 500);
    queue = queue.slice(batch.length);
    try {
      const records = await db.transaction(async (tx) => {
        await tx.query('select pg_advisory_xact_lock($1)', [LOCK_ID]);
        const last = (
          await tx.query<{ seq: string; hash: string }>(
            'select seq, hash from audit_log order by seq desc limit 1',
          )
        ).rows[0];
        let seq = last ? Number(last.seq) : 0;
        let prevHash = last?.hash ?? GENESIS;
        const out: AuditRecord[] = batch.map(({ entry }) => {
          const record: Omit<AuditRecord, 'hash'> = {
            seq: (seq += 1),
            // Milliseconds, as JavaScript and the hash see it: the stored value reads back the same.
            at: new Date().toISOString(),
            actor: storableText(entry.actor),
            action: storableText(entry.action),
            target: entry.target == null ? null : storableText(entry.target),
            // Through JSON once, so the hash covers what jsonb stores (no undefined, no Date objects).
            data: storableData(entry.data),
            prevHash,
          };
          prevHash = hashOf(record);
          return { ...record, hash: prevHash };
        });
        await tx.query(
          `insert into audit_log (seq, at, actor, action, target, data, prev_hash, hash)
           select * from unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[],
                                $6::jsonb[], $7::text[], $8::text[])`,
          [
            out.map((r) => r.seq),
            out.map((r) => r.at),
            out.map((r) => r.actor),
            out.map((r) => r.action),
            out.map((r) => r.target),
            out.map((r) => JSON.stringify(r.data)),
            out.map((r) => r.prevHash),
            out.map((r) => r.hash),
          ],
        );
        return out;
      });
      batch.forEach((b, i) => b.done(records[i]!));
    } catch (error) {
      batch.forEach((b) => b.fail(error));
    } finally {
      writing = false;
      void flush();
    }
  };
  const log: AuditLog = {
    append(entry) {
      return new Promise<AuditRecord>((done, fail) => {
        queue.push({ entry, done, fail });
        void flush();
      });
    },
    async list(filter = {}) {
      const rows = await db.query(
        `select * from audit_log
          where ($1::timestamptz is null or at >= $1) and ($2::timestamptz is null or at < $2)
            and ($3::text is null or actor = $3) and ($4::text is null or action like $4)
          order by seq desc limit $5`,
        [
          filter.since?.toISOString() ?? null,
          filter.until?.toISOString() ?? null,
          filter.actor ?? null,
          filter.action ? `${filter.action}%` : null,
          filter.limit ?? 100,
        ],
      );
      return rows.rows.map(toRecord);
    },
    async verify() {
      let prev = GENESIS;
      let expectedSeq = 1;
      let records = 0;
      for (;;) {
        const page = (
          await db.query('select * from audit_log where seq >= $1 order by seq limit 5000', [expectedSeq])
        ).rows.map(toRecord);
        for (const r of page) {
          const broken = (problem: string): VerifyResult => ({
            ok: false,
            records,
            head: prev,
            broken: { seq: r.seq, problem },
          });
          if (r.seq !== expectedSeq) return broken(`record ${expectedSeq} is missing (the next is ${r.seq})`);
          if (r.prevHash !== prev) return broken(`its prev_hash is not the hash of record ${r.seq - 1}`);
          if (hashOf(r) !== r.hash)
            return broken('its contents do not match its hash (changed after it was written)');
          prev = r.hash;
          expectedSeq += 1;
          records += 1;
        }
        if (page.length < 5000) return { ok: true, records, head: prev };
      }
    },
    async head() {
      const last = (
        await db.query<{ seq: string; hash: string }>(
          'select seq, hash from audit_log order by seq desc limit 1',
        )
      ).rows[0];
      return last ? { seq: Number(last.seq), hash: last.hash } : { seq: 0, hash: GENESIS };
    },
  };
  return log;
}
