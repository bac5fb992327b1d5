-- Operations carry their input (a backup's reason, a restore's target, a release version) and result.
alter table operations add column input jsonb not null default '{}'::jsonb;
alter table operations add column result jsonb;

-- Deployments not declared in the platform repo (restore clones, scratch drills) are left alone by the
-- reconciler: managed_by = 'repo' for declared ones.
alter table deployments add column managed_by text not null default 'repo';

-- The release a deployment should run (set by rollouts); null runs the service's working tree (build.local).
alter table deployments add column target_release jsonb;
