/**
 * Streaming WAL into the archive over PostgreSQL's replication protocol (what `pg_receivewal` does; the
 * embedded binaries do not ship it). A physical replication slot keeps the server from recycling WAL the
 * receiver has not flushed. Received bytes go into `<archive>/<segment>.partial` (created at full segment
 * size, zero-padded, the way pg_receivewal writes), fdatasync'ed as they arrive and confirmed to the server (write = flush = received), so a synchronous standby name
 * can wait on it. A finished segment is archived with `archiveWal` (the same gzip file and checksum
 * sidecar as archive_command's; an identical copy already archived is fine) and its partial removed.
 * restore_command serves a `.partial` for the newest segment, so recovery reaches the last streamed
 * record. archive_command stays the fallback path.
 */
import { closeSync, constants, fchownSync, fdatasyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { chown, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { archiveWal } from '../postgres/archive-wal.js';

export interface WalReceiverOptions {
  /** A role with REPLICATION (or a superuser) over TCP; pg_hba must allow `replication` for it. */
  connection: pg.ClientConfig;
  archiveDir: string;
  /** The physical replication slot (created when missing). */
  slot: string;
  /**
   * Longest time received WAL waits for fdatasync (default 0: right after the messages at hand, which a
   * synchronous standby needs: each commit waits for it).
   */
  flushEveryMs?: number;
  log?: (message: string) => void;
}

export interface WalReceiver {
  /** The position received and flushed to disk so far. */
  flushedLsn(): string;
  /** Resolves when the stream ends (server gone, error, or stop). */
  readonly ended: Promise<void>;
  stop(): Promise<void>;
}

const parseLsn = (lsn: string): bigint => {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
};
export const formatLsn = (v: bigint): string =>
  `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
const hex8 = (n: bigint) => n.toString(16).toUpperCase().padStart(8, '0');
const segmentName = (timeline: number, segno: bigint, segSize: bigint) => {
  const perLog = 0x100000000n / segSize;
  return `${hex8(BigInt(timeline))}${hex8(segno / perLog)}${hex8(segno % perLog)}`;
};
/** Microseconds since 2000-01-01, PostgreSQL's clock. */
const pgNow = () => BigInt(Date.now() - Date.UTC(2000, 0, 1)) * 1000n;

export async function startWalReceiver(options: WalReceiverOptions): Promise<WalReceiver> {
  const log = options.log ?? (() => undefined);
  // application_name = the slot: what synchronous_standby_names names in synchronous mode.
  const client = new pg.Client({
    ...options.connection,
    replication: 'true',
    application_name: options.slot,
  } as pg.ClientConfig);
  let failure: Error | undefined;
  client.on('error', (e) => (failure ??= e));
  await client.connect();
  const [system] = (await client.query('IDENTIFY_SYSTEM')).rows as { timeline: number; xlogpos: string }[];
  const timeline = Number(system!.timeline);
  const sizeText = String(
    ((await client.query('SHOW wal_segment_size')).rows[0] as Record<string, string>).wal_segment_size,
  );
  const segSize = BigInt(parseInt(sizeText, 10) * (sizeText.endsWith('GB') ? 1024 ** 3 : 1024 ** 2));
  try {
    await client.query(`CREATE_REPLICATION_SLOT ${options.slot} PHYSICAL RESERVE_WAL`);
    log(`created replication slot ${options.slot}`);
  } catch (error) {
    if ((error as { code?: string }).code !== '42710') throw error; // exists already: resume from it
  }
  const slot = (await client.query(`READ_REPLICATION_SLOT ${options.slot}`)).rows[0] as {
    restart_lsn: string | null;
  };
  if (slot.restart_lsn === null) {
    // Created with RESERVE_WAL, so no position means PostgreSQL invalidated it: streaming from it would
    // go on silently with nothing held back for the receiver.
    await client.end().catch(() => undefined);
    throw new Error(
      `replication slot ${options.slot} has been invalidated (it fell further behind than max_slot_wal_keep_size)`,
    );
  }
  // Whole segments: start at the segment holding the slot's restart point (rewriting its partial).
  const from = parseLsn(slot.restart_lsn);
  let received = from - (from % segSize);
  let flushed = received;

  // The archive belongs to the PostgreSQL OS user (restore_command runs as it): so do the files written here.
  const dirStat = await stat(options.archiveDir);
  const owner = process.getuid?.() === 0 ? { uid: dirStat.uid, gid: dirStat.gid } : undefined;
  let fd: number | undefined;
  let fdSegno = -1n;
  const partialOf = (segno: bigint) =>
    join(options.archiveDir, `${segmentName(timeline, segno, segSize)}.partial`);
  const archiving: Promise<unknown>[] = [];
  const finishSegment = (segno: bigint) => {
    const name = segmentName(timeline, segno, segSize);
    const partial = partialOf(segno);
    archiving.push(
      archiveWal(partial, name, options.archiveDir)
        .then(async () => {
          if (owner) {
            for (const suffix of ['.gz', '.gz.json']) {
              await chown(join(options.archiveDir, name + suffix), owner.uid, owner.gid).catch(
                () => undefined,
              );
            }
          }
          await rm(partial, { force: true });
        })
        .catch((e: Error) => log(`segment ${name} not archived from the stream: ${e.message}`)),
    );
  };
  const openSegment = (segno: bigint) => {
    if (fd !== undefined) closeSync(fd);
    fd = openSync(partialOf(segno), constants.O_RDWR | constants.O_CREAT, 0o600);
    if (owner) fchownSync(fd, owner.uid, owner.gid);
    ftruncateSync(fd, Number(segSize));
    fdSegno = segno;
  };
  const write = (start: bigint, data: Buffer) => {
    let at = start;
    let offset = 0;
    while (offset < data.length) {
      const segno = at / segSize;
      if (segno !== fdSegno) openSegment(segno);
      const within = at % segSize;
      const n = Math.min(data.length - offset, Number(segSize - within));
      let done = 0;
      while (done < n) done += writeSync(fd!, data, offset + done, n - done, Number(within) + done);
      offset += n;
      at += BigInt(n);
      if (at % segSize === 0n) {
        fdatasyncSync(fd!);
        closeSync(fd!);
        fd = undefined;
        fdSegno = -1n;
        finishSegment(segno);
      }
    }
    if (at > received) received = at;
  };
  const status = (reply = false) => {
    const b = Buffer.alloc(34);
    b.write('r', 0);
    b.writeBigUInt64BE(received, 1);
    b.writeBigUInt64BE(flushed, 9);
    b.writeBigUInt64BE(0n, 17);
    b.writeBigInt64BE(pgNow(), 25);
    b.writeUInt8(reply ? 1 : 0, 33);
    (
      client as unknown as { connection: { sendCopyFromChunk(b: Buffer): void } }
    ).connection.sendCopyFromChunk(b);
  };
  let flushTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  const flush = () => {
    flushTimer = undefined;
    if (fd !== undefined) fdatasyncSync(fd);
    flushed = received;
    status();
  };

  let stopping = false;
  const ended = new Promise<void>((resolve) => {
    const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
    connection.on('copyData', (msg: { chunk: Buffer }) => {
      const c = msg.chunk;
      try {
        if (c[0] === 0x77) {
          write(c.readBigUInt64BE(1), c.subarray(25));
          flushTimer ??= options.flushEveryMs ? setTimeout(flush, options.flushEveryMs) : setImmediate(flush);
        } else if (c[0] === 0x6b && c[17] === 1) {
          flush();
        }
      } catch (error) {
        failure ??= error as Error;
        void client.end();
      }
    });
    client
      .query(`START_REPLICATION SLOT ${options.slot} PHYSICAL ${formatLsn(received)} TIMELINE ${timeline}`)
      .catch((e: Error) => {
        if (!stopping) failure ??= e;
      })
      .finally(() => {
        if (flushTimer) {
          clearTimeout(flushTimer as NodeJS.Timeout);
          clearImmediate(flushTimer as NodeJS.Immediate);
        }
        try {
          if (fd !== undefined) {
            fdatasyncSync(fd);
            closeSync(fd);
          }
        } catch {
          // closing anyway
        }
        void Promise.all(archiving).then(() => resolve());
      });
    client.on('end', () => resolve());
  });
  const keepalive = setInterval(() => {
    try {
      status();
    } catch {
      // the connection is going away
    }
  }, 1000);
  void ended.finally(() => clearInterval(keepalive));
  log(`streaming WAL from ${formatLsn(received)} on timeline ${timeline} into ${options.archiveDir}`);
  const outcome = ended.then(() => {
    if (failure && !stopping) throw failure;
  });
  outcome.catch(() => undefined); // a caller that never awaits it must not see an unhandled rejection
  return {
    flushedLsn: () => formatLsn(flushed),
    ended: outcome,
    async stop() {
      stopping = true;
      await client.end().catch(() => undefined);
      await ended;
    },
  };
}

/** The newest partial segment the receiver left in the archive (undefined when none). */
export async function newestPartial(archiveDir: string): Promise<string | undefined> {
  const names = (await readdir(archiveDir).catch(() => [] as string[])).filter((n) => n.endsWith('.partial'));
  return names.sort().at(-1);
}
