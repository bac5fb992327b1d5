/**
 * Release versions are semantic versions with a leading `v`: `v5.3.2`, `v2.0.0-rc.1`.
 * Ordering follows semver 2.0.0 §11: numeric parts numerically, a prerelease sorts below its release,
 * prerelease identifiers compared one by one (numeric ones numerically, and below alphanumeric ones).
 */
export interface SemanticVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** `rc.1` for `v2.0.0-rc.1`; null for a release. */
  readonly prerelease: string | null;
}

const numeric = '(0|[1-9][0-9]*)';
const identifier = '[0-9A-Za-z-]+';
export const VERSION_PATTERN = new RegExp(
  `^v${numeric}\\.${numeric}\\.${numeric}(?:-(${identifier}(?:\\.${identifier})*))?$`,
);

/*
 * Every part is capped, so a version stays a short label (in URLs, tables, logs):
 * MAJOR, MINOR and PATCH at most 2147483647 (stored in PostgreSQL `integer` columns); the PRERELEASE at
 * most 64 characters in at most 8 dot-separated identifiers. A whole version is then at most 98 characters.
 */
export const MAX_VERSION_NUMBER = 2_147_483_647;
export const MAX_PRERELEASE_LENGTH = 64;
export const MAX_PRERELEASE_IDENTIFIERS = 8;

export const VERSION_FORMAT =
  'must look like vMAJOR.MINOR.PATCH or vMAJOR.MINOR.PATCH-PRERELEASE (e.g. "v1.2.3", "v2.0.0-rc.1")';

/** What is wrong with `text` as a version (completing "version …"), or undefined when it is one. */
export function versionProblem(text: string): string | undefined {
  const match = VERSION_PATTERN.exec(text);
  if (!match) return VERSION_FORMAT;
  if ([match[1], match[2], match[3]].some((n) => Number(n) > MAX_VERSION_NUMBER)) {
    return `must have MAJOR, MINOR and PATCH of at most ${MAX_VERSION_NUMBER} each`;
  }
  const prerelease = match[4];
  if (prerelease !== undefined && prerelease.length > MAX_PRERELEASE_LENGTH) {
    return `must have a prerelease (after "-") of at most ${MAX_PRERELEASE_LENGTH} characters, not ${prerelease.length}`;
  }
  const identifiers = prerelease?.split('.').length ?? 0;
  if (identifiers > MAX_PRERELEASE_IDENTIFIERS) {
    return `must have a prerelease of at most ${MAX_PRERELEASE_IDENTIFIERS} dot-separated identifiers, not ${identifiers}`;
  }
  return undefined;
}

export function parseVersion(text: string): SemanticVersion | undefined {
  if (versionProblem(text) !== undefined) return undefined;
  const match = VERSION_PATTERN.exec(text)!;
  return {
    major: Number(match[1]),
    minor: Number(match[2]),
    patch: Number(match[3]),
    prerelease: match[4] ?? null,
  };
}

export function formatVersion(version: SemanticVersion): string {
  const base = `v${version.major}.${version.minor}.${version.patch}`;
  return version.prerelease === null ? base : `${base}-${version.prerelease}`;
}

function compareIdentifiers(a: string, b: string): number {
  const aNumeric = /^[0-9]+$/.test(a);
  const bNumeric = /^[0-9]+$/.test(b);
  if (aNumeric && bNumeric) {
    // Compare as big integers without overflow: longer is bigger (no leading zeros), then lexically.
    return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
  }
  if (aNumeric) return -1;
  if (bNumeric) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePrerelease(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  const as = a.split('.');
  const bs = b.split('.');
  for (let i = 0; i < Math.max(as.length, bs.length); i++) {
    const x = as[i];
    const y = bs[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const c = compareIdentifiers(x, y);
    if (c !== 0) return c;
  }
  return 0;
}

/** Negative when a is older than b, positive when newer, 0 when equal. */
export function compareVersions(a: SemanticVersion, b: SemanticVersion): number {
  return (
    a.major - b.major ||
    a.minor - b.minor ||
    a.patch - b.patch ||
    comparePrerelease(a.prerelease, b.prerelease)
  );
}
