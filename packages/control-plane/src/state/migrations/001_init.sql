-- The control plane's state. Forward-only; applied under an advisory lock by migrate.ts.

create table deployments (
  key text primary key,
  kind text not null check (kind in ('service', 'instance')),
  service text not null,
  environment text not null,
  instance text,
  spec jsonb not null,
  spec_hash text not null,
  -- the spec_hash of the spec last deployed: the reconciler deploys when the two differ
  applied_hash text,
  desired_state text not null default 'running' check (desired_state in ('running', 'stopped', 'deleted')),
  status text not null default 'pending',
  status_detail text,
  release text,
  ports jsonb not null default '{}'::jsonb,
  restarts integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Secrets are stored encrypted (AES-256-GCM) with a key kept outside the database.
create table secrets (
  scope text not null,
  name text not null,
  ciphertext bytea not null,
  created_at timestamptz not null default now(),
  primary key (scope, name)
);

create table operations (
  id uuid primary key,
  kind text not null,
  deployment_key text not null,
  status text not null check (status in ('queued', 'running', 'succeeded', 'failed')),
  steps jsonb not null,
  reason text not null,
  created_by text not null,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  error text,
  attempt integer not null default 0,
  lease_owner text,
  lease_expires_at timestamptz
);
-- At most one unfinished operation per deployment: the reconciler and the API cannot race each other.
create unique index operations_one_active on operations (deployment_key) where status in ('queued', 'running');
create index operations_created on operations (created_at desc);

create table operation_logs (
  id bigserial primary key,
  operation_id uuid not null references operations (id) on delete cascade,
  at timestamptz not null default now(),
  level text not null,
  message text not null
);
create index operation_logs_op on operation_logs (operation_id, id);

create table api_tokens (
  id bigserial primary key,
  name text not null,
  token_sha256 text not null unique,
  role text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz
);

-- Things that happened to deployments: restarts, health changes, notifications to send.
create table events (
  id bigserial primary key,
  at timestamptz not null default now(),
  deployment_key text,
  kind text not null,
  message text not null,
  data jsonb not null default '{}'::jsonb
);
create index events_deployment on events (deployment_key, id desc);
