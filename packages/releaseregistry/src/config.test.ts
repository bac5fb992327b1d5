import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configFromEnv } from './config.js';

const complete = {
  PORT: '8080',
  DIAGNOSTICS_SECRET: 'diag-secret-value',
  RELEASE_REGISTRY_TOKEN: 'token-value',
  PGHOST: '127.0.0.1',
  PGPORT: '5433',
  PGUSER: 'app',
  PGPASSWORD: 'pw',
  PGDATABASE: 'generic',
};

void describe('configFromEnv', () => {
  void it('reads the runtime contract, preferring PGDATABASE_RELEASEREGISTRY over PGDATABASE', () => {
    const config = configFromEnv({ ...complete, PGDATABASE_RELEASEREGISTRY: 'releaseregistry' });
    assert.equal(config.port, 8080);
    assert.equal(config.schema, 'releaseregistry');
    assert.deepEqual(config.database, {
      host: '127.0.0.1',
      port: 5433,
      user: 'app',
      password: 'pw',
      database: 'releaseregistry',
    });
    assert.equal(configFromEnv(complete).database.database, 'generic');
  });

  void it('names every missing variable at once, and never echoes secret values', () => {
    assert.throws(
      () => configFromEnv({ DIAGNOSTICS_SECRET: 'diag-secret-value', PORT: 'eighty' }),
      (error: Error) => {
        for (const name of ['PORT', 'RELEASE_REGISTRY_TOKEN', 'PGHOST', 'PGUSER', 'PGDATABASE']) {
          assert.match(error.message, new RegExp(name));
        }
        assert.doesNotMatch(error.message, /diag-secret-value/);
        return true;
      },
    );
  });

  void it('rejects a schema name that is not a plain identifier', () => {
    assert.throws(
      () => configFromEnv({ ...complete, RELEASE_REGISTRY_SCHEMA: 'x"; drop' }),
      /RELEASE_REGISTRY_SCHEMA/,
    );
  });
});
