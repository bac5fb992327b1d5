-- The audit log: append-only, hash-chained. Each record carries the hash of the one before it, so a
-- changed, removed or inserted record breaks the chain at that point (`msp audit verify` names it).
create table if not exists audit_log (
  seq bigint primary key,
  at timestamptz not null,
  actor text not null,
  action text not null,
  target text,
  data jsonb not null default '{}',
  prev_hash text not null,
  hash text not null
);
create index if not exists audit_log_at on audit_log (at);
create index if not exists audit_log_actor on audit_log (actor, seq);

-- Append-only for every role, the one the control plane serves with included: an UPDATE, DELETE or
-- TRUNCATE is refused by the database itself. Only a superuser who disables the trigger (or sets
-- session_replication_role) gets past it, and the chain then shows where.
create or replace function audit_log_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'audit_log is append-only: % is not allowed', tg_op using errcode = '42501';
end $$;
drop trigger if exists audit_log_no_update on audit_log;
create trigger audit_log_no_update before update or delete on audit_log
  for each row execute function audit_log_append_only();
drop trigger if exists audit_log_no_truncate on audit_log;
create trigger audit_log_no_truncate before truncate on audit_log
  for each statement execute function audit_log_append_only();
revoke update, delete, truncate on audit_log from public;
revoke update, delete, truncate on audit_log from current_user;
