/**
 * The job queue (pg-boss) over the state database, made safe for a state database that goes away.
 * pg-boss 10 marks a job complete or failed without awaiting it (manager.js, onFetch): were the state
 * database down at that moment, the rejection would be unhandled and end the process with a stack trace.
 * So a worker's handler, whatever it did, returns only once the state database answers again. Once the
 * control plane stops, a statement of the queue that fails is dropped instead (the operations table, not the
 * queue, says what is unfinished; the next start resumes it), so stopping is clean with the database down.
 */
import pg from 'pg';
import PgBoss from 'pg-boss';
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
  const db = {
    async executeSql(text: string, values?: unknown[]) {
      try {
        return await pool.query(text, values);
      } catch (error) {
        if (closed) return undefined as unknown as pg.QueryResult; // pg-boss reads it as "nothing affected"
        throw error;
      }
    },
  };
  const boss = new PgBoss({ db, schema: 'pgboss' });
  boss.on('error', (e: Error) => options.log(`job queue: ${e.message}`));
  const answered = async (): Promise<void> => {
    while (!closed && (await options.health())) await new Promise((r) => setTimeout(r, 500));
  };
  const work = boss.work.bind(boss) as (...args: unknown[]) => Promise<string>;
  const guarded = (...args: unknown[]): Promise<string> => {
    const handler = args.at(-1);
    if (typeof handler !== 'function') return work(...args);
    const fn = handler as (jobs: unknown) => Promise<unknown>;
    const wrapped = async (jobs: unknown) => {
      let result: { value: unknown } | { error: unknown };
      try {
        result = { value: await fn(jobs) };
      } catch (error) {
        result = { error };
      }
      await answered();
      if ('error' in result) throw result.error;
      return result.value;
    };
    return work(...args.slice(0, -1), wrapped);
  };
  // Only `work` changes; every other member is the queue's own (bound: pg-boss keeps private fields).
  const view = new Proxy(boss, {
    get(target, prop, receiver) {
      if (prop === 'work') return guarded;
      const value: unknown = Reflect.get(target, prop, receiver === view ? target : receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    boss: view,
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
