-- Rollouts: per service pipeline state, per stage what runs and what ran before, and the history of every
-- delivery, promotion, release deployment and rollback.

-- suspended: null follows the spec's rollout.suspended; true/false is `msp rollout suspend|resume`.
create table rollout_pipelines (
  service text primary key,
  suspended boolean,
  changed_by text,
  changed_at timestamptz not null default now()
);

-- current/previous: {"version": "v1.2.3", "target": <TargetRelease or null for the working tree>}
create table rollout_stages (
  service text not null,
  environment text not null,
  current jsonb,
  previous jsonb,
  updated_at timestamptz not null default now(),
  primary key (service, environment)
);

create table rollout_history (
  id bigserial primary key,
  service text not null,
  action text not null,
  version text not null,
  from_environment text,
  to_environment text not null,
  previous_version text,
  actor text not null,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  outcome text not null default 'in-progress',
  reason text,
  operation_id uuid unique
);
create index rollout_history_service on rollout_history (service, id desc);
