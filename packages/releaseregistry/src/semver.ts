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

/** Stored in PostgreSQL `integer` columns. */
export const MAX_VERSION_NUMBER = 2_147_483_647;

export function parseVersion(text: string): SemanticVersion | undefined {
  const match = VERSION_PATTERN.exec(text);
  if (!match) return undefined;
  const [major, minor, patch] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (major > MAX_VERSION_NUMBER || minor > MAX_VERSION_NUMBER || patch > MAX_VERSION_NUMBER)
    return undefined;
  return { major, minor, patch, prerelease: match[4] ?? null };
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
