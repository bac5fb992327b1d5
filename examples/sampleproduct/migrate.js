// The one-off migrator job: `node migrate.js` with the same environment as the server. Exit 0 when the
// schema is up to date (also when another instance migrated it first), 1 otherwise. One line per migration
// applied, so a failure says how far it got.
import { createPool, migrate } from './db.js';

let pool;
try {
  pool = createPool();
  const applied = await migrate(pool, (file) => console.log(`applied ${file}`));
  if (applied.length === 0) console.log('schema is up to date');
} catch (error) {
  const applied = error.applied ?? [];
  console.error(
    `sampleproduct migrate: ${error.message}${applied.length ? ` (after applying ${applied.join(', ')}: the database is half-migrated)` : ''}`,
  );
  process.exitCode = 1;
} finally {
  await pool?.end();
}
