-- Backups: base backups and volume snapshots of deployments, their manifests, verifications and drills.
create table if not exists backups (
  id text primary key,
  deployment_key text not null,
  type text not null check (type in ('base', 'volume')),
  kind text not null check (kind in ('scheduled', 'on-demand', 'pre-upgrade')),
  volume text,
  status text not null check (status in ('running', 'succeeded', 'failed')),
  reason text not null default '',
  operation_id text,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  raw_bytes bigint,
  stored_bytes bigint,
  timeline int,
  start_lsn text,
  stop_lsn text,
  start_wal text,
  stop_wal text,
  -- the manifest as written to the repository (files with checksums and places in the pack)
  manifest jsonb,
  error text,
  verified_at timestamptz,
  verify_ok boolean,
  verify_problems jsonb
);
create index if not exists backups_deployment on backups (deployment_key, started_at desc);

create table if not exists backup_drills (
  id bigserial primary key,
  deployment_key text not null,
  backup_id text,
  operation_id text,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  ok boolean,
  detail jsonb not null default '{}'
);
create index if not exists backup_drills_deployment on backup_drills (deployment_key, started_at desc);
