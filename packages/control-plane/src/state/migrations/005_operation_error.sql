-- A failed operation keeps the code of its error (errors.ts: unavailable, conflict, internal, ...) and
-- whether running it again can help, not only the message.
alter table operations add column error_code text;
alter table operations add column retryable boolean;

-- Finding operations whose owner stopped renewing its lease (another control plane takes them over).
create index operations_lease_expired on operations (lease_expires_at) where status in ('queued', 'running');
