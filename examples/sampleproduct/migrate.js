// The one-off migrator job: `node migrate.js` with the same environment as the server. Exit 0 when the
// schema is up to date (also when another instance migrated it first), 1 otherwise.
import { createPool, migrate } from './db.js';

let pool;
try {
  pool = createPool();
  const applied = await migrate(pool);
  console.log(applied.length > 0 ? `applied ${applied.join(', ')}` : 'schema is up to date');
} catch (error) {
  console.error(`sampleproduct migrate: ${error.message}`);
  process.exitCode = 1;
} finally {
  await pool?.end();
}
