-- Releases of every product. Runs with search_path set to the registry's schema.
CREATE TABLE releases (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  version text NOT NULL,
  -- The version split out so that ordering by semantic version happens in SQL (v1.10.0 > v1.9.0).
  major integer NOT NULL CHECK (major >= 0),
  minor integer NOT NULL CHECK (minor >= 0),
  patch integer NOT NULL CHECK (patch >= 0),
  prerelease text,
  git_sha text NOT NULL,
  public boolean NOT NULL DEFAULT false,
  is_development boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  promoted_at timestamptz,
  tags text[] NOT NULL DEFAULT '{}',
  -- [{ "digest": "sha256:...", "url": "...", "kind": "bundle" | "image" }]
  artifacts jsonb NOT NULL DEFAULT '[]',
  CONSTRAINT releases_name_version_key UNIQUE (name, version),
  CONSTRAINT releases_development_never_public CHECK (NOT (public AND is_development)),
  CONSTRAINT releases_promoted_at_when_public CHECK (public = (promoted_at IS NOT NULL))
);

CREATE INDEX releases_by_semver ON releases (name, major DESC, minor DESC, patch DESC);
