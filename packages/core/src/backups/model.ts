/**
 * Backups as data: base backups of a cluster, volume snapshots, and WAL segment names. Pure: no clock,
 * no files; the runtime and the control plane fill these in.
 */
import { InputError } from '../errors.js';

/** Why a backup was taken: on a schedule, on request, or before an upgrade (or another risky change). */
export const BackupKind = {
  Scheduled: 'scheduled',
  OnDemand: 'on-demand',
  PreUpgrade: 'pre-upgrade',
} as const;
export type BackupKind = (typeof BackupKind)[keyof typeof BackupKind];
export const BACKUP_KINDS: readonly BackupKind[] = Object.values(BackupKind);

export type BackupType = 'base' | 'volume';
export type BackupStatus = 'running' | 'succeeded' | 'failed';

/** What retention and the recoverable window need to know about one backup. */
export interface BackupRecord {
  readonly id: string;
  readonly type: BackupType;
  readonly kind: BackupKind;
  readonly status: BackupStatus;
  /** For volume snapshots: the volume's name. */
  readonly volume?: string;
  readonly startedAt: string;
  /** When the backup became consistent (pg_backup_stop), or when the snapshot finished. */
  readonly finishedAt?: string;
  /** First and last WAL segment a base backup needs to be consistent. */
  readonly startWal?: string;
  readonly stopWal?: string;
  /**
   * Incremental base backups: the base backups whose stored data this one reads (its chain). Retention
   * keeps each of them while this one is kept.
   */
  readonly references?: readonly string[];
  /** True when the last verification found a problem: such a backup is not good. */
  readonly verifyFailed?: boolean;
}

/** A good backup: finished, succeeded, and not found corrupt by a verification. */
export function isGood(b: BackupRecord): boolean {
  return b.status === 'succeeded' && b.finishedAt !== undefined && b.verifyFailed !== true;
}

/** `TTTTTTTTXXXXXXXXYYYYYYYY`: a WAL segment file name. */
export const WAL_SEGMENT_PATTERN = /^[0-9A-F]{24}$/;

export interface WalSegmentName {
  timeline: number;
  /** Segment number counted from the start of WAL (log * segmentsPerLog + seg). */
  segno: bigint;
}

/** Parses a WAL segment file name; segments per "log" file depend on the segment size (16 MiB default). */
export function parseWalSegment(name: string, segmentSize = 16 * 1024 * 1024): WalSegmentName {
  if (!WAL_SEGMENT_PATTERN.test(name)) {
    throw new InputError(`"${name}" is not a WAL segment file name (24 hexadecimal digits).`);
  }
  const perLog = 0x100000000n / BigInt(segmentSize);
  const timeline = parseInt(name.slice(0, 8), 16);
  const log = BigInt(`0x${name.slice(8, 16)}`);
  const seg = BigInt(`0x${name.slice(16, 24)}`);
  return { timeline, segno: log * perLog + seg };
}

export function walSegmentName(timeline: number, segno: bigint, segmentSize = 16 * 1024 * 1024): string {
  const perLog = 0x100000000n / BigInt(segmentSize);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(segno / perLog)}${hex(segno % perLog)}`;
}

/** The WAL segment names from `start` to `stop` (on start's timeline). */
export function walSegmentRange(start: string, stop: string, segmentSize = 16 * 1024 * 1024): string[] {
  const a = parseWalSegment(start, segmentSize);
  const b = parseWalSegment(stop, segmentSize);
  const out: string[] = [];
  for (let n = a.segno; n <= b.segno; n++) out.push(walSegmentName(a.timeline, n, segmentSize));
  return out;
}
