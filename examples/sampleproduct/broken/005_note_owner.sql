-- ...and this one fails halfway: the column is added, then the backfill divides by zero, so the upgrade
-- leaves a database that 004 has already rewritten. MSP must restore the pre-upgrade backup.
ALTER TABLE notes ADD COLUMN owner text;
UPDATE notes SET owner = 'user-' || (id / 0);
