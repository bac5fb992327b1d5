import { registryDbOf, type Database, type RegistryDb } from './db.js';
import { ConflictError, NotFoundError } from '@msp/core';
import type { Artifact, NewRelease, Release } from './release.js';
import { compareVersions, formatVersion, MAX_VERSION_NUMBER, parseVersion } from './semver.js';
import type { SemanticVersion } from './semver.js';
import { assertSchemaName, quoteIdent } from './migrate.js';

/** Where releases live. The HTTP layer depends on this interface; PostgreSQL is the one implementation. */
export interface ReleaseStore {
  /** Every product's releases: by product name, then newest first. */
  listAll(): Promise<Release[]>;
  /** One product's releases, newest first by semantic version. */
  listProduct(name: string): Promise<Release[]>;
  /** The newest public release, or undefined when none is public. */
  latestPublic(name: string): Promise<Release | undefined>;
  get(name: string, version: string): Promise<Release | undefined>;
  /** Registers an internal release; ConflictError when the version exists. */
  create(release: NewRelease): Promise<Release>;
  /** Makes a release public; idempotent. NotFoundError, or ConflictError for a development release. */
  promote(name: string, version: string): Promise<Release>;
  /** The next patch version in `major.minor`: v{major}.{minor}.0 when there is none yet. */
  nextPatchVersion(name: string, major: number, minor: number): Promise<string>;
  /** Throws when the database cannot answer. */
  ping(): Promise<void>;
}

interface ReleaseRow {
  id: number;
  name: string;
  version: string;
  major: number;
  minor: number;
  patch: number;
  prerelease: string | null;
  git_sha: string;
  public: boolean;
  is_development: boolean;
  created_at: Date;
  promoted_at: Date | null;
  tags: string[];
  artifacts: Artifact[];
}

const COLUMNS =
  'id, name, version, major, minor, patch, prerelease, git_sha, public, is_development, created_at, promoted_at, tags, artifacts';
const SEMVER_ORDER = 'major DESC, minor DESC, patch DESC, (prerelease IS NULL) DESC';

function toRelease(row: ReleaseRow): Release {
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    git_sha: row.git_sha,
    public: row.public,
    is_development: row.is_development,
    created_at: row.created_at.toISOString(),
    promoted_at: row.promoted_at === null ? null : row.promoted_at.toISOString(),
    tags: row.tags,
    artifacts: row.artifacts,
  };
}

const semverOf = (row: ReleaseRow): SemanticVersion => row;

/** SQL orders by the numeric parts; prerelease identifiers need semver's rules, so the final order is here. */
function newestFirst(rows: ReleaseRow[]): ReleaseRow[] {
  return rows.sort((a, b) => a.name.localeCompare(b.name) || compareVersions(semverOf(b), semverOf(a)));
}

export class PostgresReleaseStore implements ReleaseStore {
  readonly #pool: RegistryDb;
  readonly #table: string;

  constructor(db: Database, schema: string) {
    assertSchemaName(schema);
    this.#pool = registryDbOf(db);
    this.#table = `${quoteIdent(schema)}.releases`;
  }

  async listAll(): Promise<Release[]> {
    const { rows } = await this.#pool.query<ReleaseRow>(
      `SELECT ${COLUMNS} FROM ${this.#table} ORDER BY name, ${SEMVER_ORDER}`,
    );
    return newestFirst(rows).map(toRelease);
  }

  async listProduct(name: string): Promise<Release[]> {
    const { rows } = await this.#pool.query<ReleaseRow>(
      `SELECT ${COLUMNS} FROM ${this.#table} WHERE name = $1 ORDER BY ${SEMVER_ORDER}`,
      [name],
    );
    return newestFirst(rows).map(toRelease);
  }

  async latestPublic(name: string): Promise<Release | undefined> {
    // The highest public major.minor.patch in SQL; among its prereleases (if any) semver decides.
    const { rows } = await this.#pool.query<ReleaseRow>(
      `SELECT ${COLUMNS} FROM ${this.#table}
        WHERE name = $1 AND public AND (major, minor, patch) = (
          SELECT major, minor, patch FROM ${this.#table} WHERE name = $1 AND public
           ORDER BY major DESC, minor DESC, patch DESC LIMIT 1)`,
      [name],
    );
    const [newest] = newestFirst(rows);
    return newest === undefined ? undefined : toRelease(newest);
  }

  async get(name: string, version: string): Promise<Release | undefined> {
    const { rows } = await this.#pool.query<ReleaseRow>(
      `SELECT ${COLUMNS} FROM ${this.#table} WHERE name = $1 AND version = $2`,
      [name, version],
    );
    return rows[0] === undefined ? undefined : toRelease(rows[0]);
  }

  async create(release: NewRelease): Promise<Release> {
    const v = parseVersion(release.version);
    if (v === undefined) throw new Error(`unvalidated version ${release.version}`);
    const { rows } = await this.#pool.query<ReleaseRow>(
      `INSERT INTO ${this.#table} (name, version, major, minor, patch, prerelease, git_sha, is_development, tags, artifacts)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (name, version) DO NOTHING
       RETURNING ${COLUMNS}`,
      [
        release.name,
        release.version,
        v.major,
        v.minor,
        v.patch,
        v.prerelease,
        release.git_sha,
        release.is_development ?? false,
        release.tags ?? [],
        JSON.stringify(release.artifacts ?? []),
      ],
    );
    if (rows[0] === undefined) {
      throw new ConflictError(
        `release ${release.name} ${release.version} already exists; versions are immutable, register a new version (POST /v1/releases/${release.name}/next/${v.major}.${v.minor} suggests one)`,
        { details: { name: release.name, version: release.version } },
      );
    }
    return toRelease(rows[0]);
  }

  async promote(name: string, version: string): Promise<Release> {
    const { rows } = await this.#pool.query<ReleaseRow>(
      `UPDATE ${this.#table} SET public = true, promoted_at = now()
        WHERE name = $1 AND version = $2 AND NOT public AND NOT is_development
        RETURNING ${COLUMNS}`,
      [name, version],
    );
    if (rows[0] !== undefined) return toRelease(rows[0]);
    const existing = await this.get(name, version);
    if (existing === undefined) {
      throw new NotFoundError(
        `release ${name} ${version} does not exist; register it first with POST /v1/releases`,
        { details: { name, version } },
      );
    }
    if (existing.is_development) {
      throw new ConflictError(
        `release ${name} ${version} is a development release and cannot be made public; build and register a non-development release to promote`,
        { details: { name, version } },
      );
    }
    return existing; // already public: promotion is idempotent and keeps the first promoted_at
  }

  async nextPatchVersion(name: string, major: number, minor: number): Promise<string> {
    const { rows } = await this.#pool.query<{ released: number | null; highest: number | null }>(
      `SELECT max(patch) FILTER (WHERE prerelease IS NULL) AS released, max(patch) AS highest
         FROM ${this.#table} WHERE name = $1 AND major = $2 AND minor = $3`,
      [name, major, minor],
    );
    const { released = null, highest = null } = rows[0] ?? {};
    // vX.Y.P-rc.1 as the newest means vX.Y.P itself is next; a released vX.Y.P means vX.Y.(P+1).
    const patch = highest === null ? 0 : released === highest ? highest + 1 : highest;
    if (patch > MAX_VERSION_NUMBER) {
      throw new ConflictError(
        `no patch versions left in ${name} v${major}.${minor}; start a new minor version`,
      );
    }
    return formatVersion({ major, minor, patch, prerelease: null });
  }

  async ping(): Promise<void> {
    await this.#pool.query('SELECT 1');
  }
}
