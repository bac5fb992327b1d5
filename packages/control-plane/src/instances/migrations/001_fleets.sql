-- Fleet upgrades: one row per fleet, its members (instances with ring, from/to, state, operation) as JSON.
create table if not exists instance_fleets (
  id text primary key,
  status text not null check (status in ('running', 'paused', 'stopped', 'succeeded')),
  to_version text not null,
  request jsonb not null,
  members jsonb not null,
  -- When the last ring finished: the next one starts after the soak.
  ring_done_at timestamptz,
  stop_reason text,
  created_by text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists instance_fleets_status on instance_fleets (status);
