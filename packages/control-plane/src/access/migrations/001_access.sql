-- People, their API tokens (stored as SHA-256 only) and time-bound access requests/grants.
create table if not exists access_users (
  name text primary key,
  role text not null check (role in ('viewer', 'operator', 'admin')),
  created_at timestamptz not null default now(),
  created_by text not null,
  disabled_at timestamptz
);

create table if not exists access_tokens (
  id text primary key,
  user_name text not null references access_users (name),
  token_sha256 text not null unique,
  label text not null default '',
  created_at timestamptz not null default now(),
  created_by text not null,
  expires_at timestamptz not null,
  revoked_at timestamptz,
  last_used_at timestamptz
);
create index if not exists access_tokens_user on access_tokens (user_name);

create table if not exists access_requests (
  id text primary key,
  requester text not null,
  target text not null,
  environment text not null,
  role text not null check (role in ('db-read', 'db-write', 'operate')),
  duration_seconds int not null,
  reason text not null,
  break_glass boolean not null default false,
  status text not null check (status in ('pending', 'approved', 'denied', 'revoked', 'expired')),
  created_at timestamptz not null default now(),
  decided_by text,
  decided_at timestamptz,
  decision_reason text,
  starts_at timestamptz,
  ends_at timestamptz,
  revoked_by text,
  revoked_at timestamptz
);
create index if not exists access_requests_active on access_requests (requester, environment) where status = 'approved';

-- Database credentials minted under a grant: dropped (sessions ended) when the grant ends.
create table if not exists access_credentials (
  db_user text primary key,
  request_id text not null references access_requests (id),
  deployment_key text not null,
  created_at timestamptz not null default now(),
  valid_until timestamptz not null,
  dropped_at timestamptz
);
