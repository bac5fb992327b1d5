/**
 * An external Release Registry's token: `tokenSecret` in msp.yaml (which any repo committer writes) must not
 * be able to name a variable of the control plane and have its value sent to the URL in the same file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { appendFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../state/db.js';
import type { StateStore } from '../state/store.js';
import { createFixtureRepo, type FixtureRepo } from '../testing/index.js';
import { connectRegistry, registryTokenVariable } from './registry.js';

const DATABASE_URL = 'postgresql://admin:s3cret-password@127.0.0.1:5432/msp';
let server: http.Server;
let repo: FixtureRepo;
const seen: Array<string | undefined> = [];
// The external path never touches the state store or database.
const noStore = {} as StateStore;
const noDb = {} as Db;

before(async () => {
  server = http.createServer((req, res) => {
    seen.push(req.headers.authorization);
    res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  repo = await createFixtureRepo({ name: 'registry-token' });
  await appendFile(
    join(repo.dir, 'msp.yaml'),
    `releaseRegistry:\n  url: http://127.0.0.1:${port}\n  tokenSecret: DATABASE_URL\n`,
  );
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  if (repo) await rm(repo.dir, { recursive: true, force: true });
});

test('tokenSecret: DATABASE_URL does not send DATABASE_URL; the start is refused naming the variable to set', async () => {
  seen.length = 0;
  await assert.rejects(
    connectRegistry({ store: noStore, db: noDb, repoDir: repo.dir, env: { DATABASE_URL } }),
    (error: Error) => {
      assert.match(error.message, /MSP_REGISTRY_TOKEN_DATABASE_URL is not set/);
      assert.match(error.message, /export MSP_REGISTRY_TOKEN_DATABASE_URL=<token>/);
      assert.doesNotMatch(error.message, /s3cret/);
      return true;
    },
  );
  assert.deepEqual(seen, [], 'nothing was sent to the registry');
});

test('the token is MSP_REGISTRY_TOKEN_<tokenSecret>, sent as the bearer token, never the named variable', async () => {
  seen.length = 0;
  const registry = await connectRegistry({
    store: noStore,
    db: noDb,
    repoDir: repo.dir,
    env: { DATABASE_URL, MSP_REGISTRY_TOKEN_DATABASE_URL: 'registry-write-token' },
  });
  await registry.client.nextVersion('svc', 1, 0); // a write: the client sends the token on POSTs
  assert.deepEqual(seen, ['Bearer registry-write-token']);
  assert.ok(!seen.some((h) => h?.includes('s3cret')));
});

test('tokenSecret names map to one fixed-prefix variable', () => {
  assert.equal(registryTokenVariable('ci-token'), 'MSP_REGISTRY_TOKEN_CI_TOKEN');
  assert.equal(registryTokenVariable('MSP_SECRET_KEY'), 'MSP_REGISTRY_TOKEN_MSP_SECRET_KEY');
});
