-- Alerting: sampled signals (kept 24 h), rule states, incidents, silences and notification deliveries.
create table if not exists alert_signals (
  at timestamptz not null,
  deployment_key text not null,
  signal text not null,
  -- the instance (container signals) or '' (one value per deployment)
  instance text not null default '',
  value double precision not null
);
create index if not exists alert_signals_lookup on alert_signals (deployment_key, signal, at);
create index if not exists alert_signals_at on alert_signals (at);

create table if not exists alert_rule_states (
  deployment_key text not null,
  policy_id text not null,
  state text not null check (state in ('inactive', 'pending', 'firing', 'nodata', 'error')),
  since timestamptz not null,
  active_since timestamptz,
  last_active_at timestamptz,
  value double precision,
  error text,
  evaluated_at timestamptz not null default now(),
  primary key (deployment_key, policy_id)
);

create table if not exists alert_incidents (
  id text primary key,
  deployment_key text not null,
  service text not null,
  environment text not null,
  policy_id text not null,
  title text not null,
  severity text not null check (severity in ('WARNING', 'CRITICAL')),
  status text not null check (status in ('open', 'resolved', 'closed')),
  summary text not null,
  value double precision,
  threshold double precision not null,
  opened_at timestamptz not null default now(),
  resolved_at timestamptz,
  closed_reason text,
  acked_at timestamptz,
  acked_by text,
  last_data_at timestamptz not null default now()
);
-- one open incident per policy and deployment
create unique index if not exists alert_incidents_one_open on alert_incidents (deployment_key, policy_id)
  where status = 'open';
create index if not exists alert_incidents_recent on alert_incidents (opened_at desc);

create table if not exists alert_silences (
  id text primary key,
  policy text not null,
  service text not null,
  environment text not null,
  reason text not null,
  created_by text not null,
  created_at timestamptz not null default now(),
  ends_at timestamptz not null,
  expired_at timestamptz,
  announced_at timestamptz
);

create table if not exists alert_deliveries (
  id text primary key,
  channel text not null,
  channel_type text not null,
  -- fired, resolved, silence-ended, event, test
  kind text not null,
  incident_id text,
  silence_id text,
  deployment_key text,
  status text not null check (status in ('queued', 'delivered', 'failed', 'suppressed')),
  attempts int not null default 0,
  last_error text,
  payload jsonb not null,
  created_at timestamptz not null default now(),
  delivered_at timestamptz,
  updated_at timestamptz not null default now()
);
create index if not exists alert_deliveries_recent on alert_deliveries (created_at desc);
create index if not exists alert_deliveries_silence on alert_deliveries (silence_id) where silence_id is not null;

-- how far the forwarding of events (rollout-, fleet-, instance-, access-break-glass) has read
create table if not exists alert_event_cursor (
  id int primary key check (id = 1),
  last_event_id bigint not null
);
