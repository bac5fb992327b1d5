/**
 * The job queue (pg-boss) over the state database, made safe for a state database that goes away.
 * pg-boss 10 marks a job complete or failed without awaiting it (manager.js, onFetch): were the state
 * database down at that moment, the rejection would be unhandled and end the process with a stack trace.
 * So a statement of the queue that fails because the database is not there (a connection error, classified
 * by `classifyError`) waits until the database answers again and is sent again; a failed statement is rolled
 * back by PostgreSQL, so sending it again is safe (a few times only while the database answers). Once the control plane stops, a statement that fails is
 * dropped instead (the operations table, not the queue, says what is unfinished; the next start resumes
 * it), so stopping is clean with the database down.
 */
import pg from 'pg';
import PgBoss from 'pg-boss';
import { classifyError } from '@msp/core';
import type { HealthCheck } from './health.js';

export interface JobQueue {
  readonly boss: PgBoss;
  /** From now on a failed statement of the queue is dropped, not thrown (call before stopping the workers). */
  close(): void;
  stop(): Promise<void>;
}

export function createJobQueue(
  connectionString: string,
  options: { log: (line: string) => void; health: HealthCheck },
): JobQueue {
  let closed = false;
  const pool = new pg.Pool({ connectionString, max: 4, application_name: 'pgboss' });
  pool.on('error', (e: Error) => options.log(`job queue: ${e.message}`));
  const answered = async (): Promise<void> => {
    while (!closed && (await options.health())) await new Promise((r) => setTimeout(r, 500));
  };
  const db = {
    async executeSql(text: string, values?: unknown[]): Promise<pg.QueryResult> {
      for (let attempt = 1; ; attempt++) {
        try {
          return await pool.query(text, values);
        } catch (error) {
          if (closed) return undefined as unknown as pg.QueryResult; // pg-boss reads it as "nothing affected"
          if (!classifyError(error).retryable) throw error;
          if (attempt === 1)
            options.log(`job queue: waiting for the state database (${(error as Error).message})`);
          // The database answers but the statement still fails (a conflict, a full disk): give up after a few.
          if (!(await options.health()) && attempt >= 5) throw error;
          await new Promise((r) => setTimeout(r, 200 * attempt));
          await answered();
        }
      }
    },
  };
  const boss = new PgBoss({ db, schema: 'pgboss' });
  boss.on('error', (e: Error) => options.log(`job queue: ${e.message}`));
  return {
    boss,
    close() {
      closed = true;
    },
    async stop() {
      closed = true;
      await boss.stop({ graceful: false, wait: true, timeout: 5000 });
      await pool.end();
    },
  };
}
