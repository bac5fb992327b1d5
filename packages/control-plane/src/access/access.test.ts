// Over 400 lines: one control plane (with an OIDC issuer) shared by every access and audit case, to keep the suite fast.
/**
 * People, grants and the audit trail against a real control plane, real PostgreSQL and the real CLI:
 * tokens and roles (401/403), restricted-environment grants for changes and `pg connect` (credentials and
 * open sessions end at expiry and at revoke), break-glass, OIDC sign-in with a local issuer, the audit
 * log (append-only, verify names a tampered record) and the evidence export of a test period.
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-explicit-any -- JSON bodies */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, mkdtemp, rm, appendFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import pg from 'pg';
import { findFreePort } from '@msp/runtime-local';
import { createAuditModule } from '../audit/index.js';
import { createBackupsModule } from '../backups/index.js';
import { createRolloutsModule } from '../rollouts/index.js';
import { startControlPlane, type ControlPlane } from '../server.js';
import { createLocalRuntime } from '../targets/local/index.js';
import {
  createFixtureRepo,
  eventually,
  releaseRegistryDir,
  stageRelease,
  uploadBundle,
  type FixtureRepo,
} from '../testing/fixture-repo.js';
import { createAccessModule } from './index.js';

const BIN = fileURLToPath(new URL('../../../cli/bin/msp.js', import.meta.url));
type Json = Record<string, any>;

describe('people, grants and the audit trail', () => {
  let repo: FixtureRepo;
  let cp: ControlPlane;
  let issuer: Server;
  let issuerUrl: string;
  const keys = generateKeyPair('ES256');
  const tokens: Record<string, string> = {};
  let periodStart: string;
  const grantIds: string[] = [];
  const prodChanges: string[] = [];

  const api = async (token: string, path: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await fetch(`${cp.url}/api/v1${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as Json };
  };
  const msp = (token: string, args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        env: { ...process.env, MSP_URL: cp.url, MSP_TOKEN: token },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  const request = async (who: string, body: Json) => {
    const r = await api(tokens[who]!, '/access/requests', { body });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as { id: string; endsAt: string | null };
  };
  const approve = async (id: string) => {
    const r = await msp(tokens.bob!, ['access', 'approve', id, '--json']);
    assert.equal(r.code, 0, r.stderr);
    grantIds.push(id);
    return JSON.parse(r.stdout) as { endsAt: string };
  };
  const dbCredentials = async (who: string, access: 'read' | 'write') => {
    const r = await api(tokens[who]!, '/pg/connect', {
      body: { deployment: 'releaseregistry/prod', access, sessionTimeoutSeconds: 3600 },
    });
    return r;
  };
  const session = async (creds: Json) => {
    const client = new pg.Client({
      host: creds.host,
      port: creds.port,
      user: creds.user,
      password: creds.password,
      database: 'releaseregistry',
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };

  before(async () => {
    const { publicKey } = await keys;
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    issuer = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration') {
        res.end(JSON.stringify({ issuer: issuerUrl, jwks_uri: `${issuerUrl}/jwks` }));
      } else if (req.url === '/jwks') res.end(JSON.stringify({ keys: [jwk] }));
      else res.writeHead(404).end('{}');
    });
    await new Promise<void>((r) => issuer.listen(0, '127.0.0.1', r));
    issuerUrl = `http://127.0.0.1:${(issuer.address() as { port: number }).port}`;

    repo = await createFixtureRepo({ name: 'access', envs: ['dev', 'prod'], rollout: true });
    await appendFile(
      join(repo.dir, 'msp.yaml'),
      `access:\n  oidc: { issuer: '${issuerUrl}', audience: msp-test, roleClaim: msp_role }\n`,
    );
    cp = await startControlPlane({
      repoDir: repo.dir,
      port: await findFreePort(),
      createRuntime: async (deps) =>
        createLocalRuntime({ ...deps, proxyPort: await findFreePort(), soakMs: 500 }),
      modules: [
        createAuditModule(),
        createAccessModule({ sweepMs: 300 }),
        createRolloutsModule(),
        createBackupsModule({ schedules: false }),
      ],
      log: process.env.MSP_TEST_LOG ? (l) => console.error(l) : () => undefined,
    });
    for (const env of ['dev', 'prod']) {
      await eventually(`releaseregistry/${env} healthy`, 180_000, async () =>
        (await cp.store.getDeployment(`releaseregistry/${env}`))?.status === 'healthy' ? true : undefined,
      );
    }
    periodStart = new Date().toISOString();
  });

  after(async () => {
    await cp?.stop();
    issuer?.close();
    if (repo) await rm(repo.dir, { recursive: true, force: true });
  });

  test('users and tokens: roles, whoami, 401 for a wrong, revoked or expired token, 403 naming the role', async () => {
    for (const [name, role] of [
      ['alice', 'operator'],
      ['bob', 'admin'],
      ['vic', 'viewer'],
    ]) {
      const added = await msp(cp.adminToken, ['users', 'add', name!, '--role', role!]);
      assert.equal(added.code, 0, added.stderr);
      const created = await msp(cp.adminToken, ['tokens', 'create', '--user', name!, '--label', 'test']);
      assert.equal(created.code, 0, created.stderr);
      tokens[name!] = created.stdout.trim();
      assert.match(tokens[name!]!, /^msp_u_/);
    }
    const bad = await msp(cp.adminToken, ['users', 'add', 'zed', '--role', 'root']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /role.*viewer, operator, admin/);

    const me = await msp(tokens.alice!, ['whoami']);
    assert.equal(me.code, 0, me.stderr);
    assert.match(me.stdout, /^alice \(operator\)/);
    assert.match((await msp(cp.adminToken, ['whoami'])).stdout, /admin \(admin, bootstrap admin token\)/);

    // Stored hashed: the secret is nowhere in the table.
    const stored = await cp.store.pool.query('select * from access_tokens');
    assert.ok(!JSON.stringify(stored.rows).includes(tokens.alice!));

    const wrong = await api('msp_u_nope', '/status');
    assert.equal(wrong.status, 401);
    assert.deepEqual(Object.keys(wrong.body), ['error']);
    const spare = (await msp(tokens.vic!, ['tokens', 'create', '--json'])).stdout;
    const { id, token } = JSON.parse(spare) as { id: string; token: string };
    assert.equal((await api(token, '/status')).status, 200);
    assert.equal((await msp(tokens.vic!, ['tokens', 'revoke', id])).code, 0);
    assert.equal((await api(token, '/status')).status, 401);
    const other = JSON.parse((await msp(tokens.vic!, ['tokens', 'create', '--json'])).stdout) as {
      id: string;
      token: string;
    };
    await cp.store.pool.query(
      `update access_tokens set expires_at = now() - interval '1 second' where id = $1`,
      [other.id],
    );
    assert.equal((await api(other.token, '/status')).status, 401);
    // vic cannot revoke alice's token (not theirs): nothing found.
    const aliceToken = (await api(tokens.alice!, '/tokens')).body.tokens[0].id as string;
    assert.equal((await api(tokens.vic!, `/tokens/${aliceToken}/revoke`, { body: {} })).status, 404);

    const promote = await api(tokens.vic!, '/rollouts/promote', { body: { service: 'releaseregistry' } });
    assert.equal(promote.status, 403);
    assert.match(
      promote.body.error.message,
      /vic is a viewer; POST \/api\/v1\/rollouts\/promote needs the operator role/,
    );
    const cli = await msp(tokens.vic!, ['rollout', 'promote', 'releaseregistry']);
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /needs the operator role/);
    const manage = await api(tokens.alice!, '/users', { body: { name: 'eve', role: 'admin' } });
    assert.equal(manage.status, 403);
    assert.match(manage.body.error.message, /needs the admin role/);
  });

  test('an operator changes dev freely; prod only under an operate grant another person approved', async () => {
    // A release in dev to promote (created by the bootstrap admin).
    const from = await stageRelease(releaseRegistryDir, join(repo.dir, 'build-v0.2.0'), { version: '0.2.0' });
    const release = await api(cp.adminToken, '/releases', {
      body: { service: 'releaseregistry', version: 'v0.2.0', bundle: await uploadBundle(cp, from) },
    });
    assert.equal(release.status, 201, JSON.stringify(release.body));
    await cp.engine.waitFor(release.body.operation.id as string, 120_000);
    const promote = () => api(tokens.alice!, '/rollouts/promote', { body: { service: 'releaseregistry' } });
    const notYet = await promote();
    assert.equal(notYet.status, 403, JSON.stringify(notYet.body));
    assert.match(
      notYet.body.error.message,
      /prod is a restricted environment: alice needs an active operate grant/,
    );

    const dev = await api(tokens.alice!, `/deployments/${encodeURIComponent('releaseregistry/dev')}/deploy`, {
      body: {},
    });
    assert.equal(dev.status, 202, JSON.stringify(dev.body));
    assert.equal(dev.body.createdBy, 'alice');
    await cp.engine.waitFor(dev.body.id as string, 120_000);
    const prodPath = `/deployments/${encodeURIComponent('releaseregistry/prod')}/deploy`;
    const refused = await api(tokens.alice!, prodPath, { body: {} });
    assert.equal(refused.status, 403);
    assert.match(
      refused.body.error.message,
      /prod is a restricted environment: alice needs an active operate grant/,
    );

    const tooLong = await msp(tokens.alice!, [
      'access',
      'request',
      'releaseregistry',
      'prod',
      '--role',
      'operate',
      '--for',
      '9h',
      '--reason',
      'x',
    ]);
    assert.equal(tooLong.code, 2);
    assert.match(tooLong.stderr, /grants last 1s to 8h/);
    const badRole = await msp(tokens.alice!, [
      'access',
      'request',
      'releaseregistry',
      'prod',
      '--role',
      'root',
      '--for',
      '1h',
      '--reason',
      'x',
    ]);
    assert.equal(badRole.code, 2);
    const asked = await msp(tokens.alice!, [
      'access',
      'request',
      'releaseregistry',
      'prod',
      '--role',
      'operate',
      '--for',
      '1h',
      '--reason',
      'ship the fix',
      '--json',
    ]);
    assert.equal(asked.code, 0, asked.stderr);
    const { id } = JSON.parse(asked.stdout) as { id: string };
    const self = await msp(tokens.alice!, ['access', 'approve', id]);
    assert.equal(self.code, 2);
    assert.match(self.stderr, /cannot approve their own request/);
    const viewer = await msp(tokens.vic!, ['access', 'approve', id]);
    assert.equal(viewer.code, 2);
    assert.match(viewer.stderr, /needs the role admin/);
    // Denying is deciding too: a viewer cannot turn someone's request down, and it stays pending.
    const viewerDeny = await msp(tokens.vic!, ['access', 'deny', id]);
    assert.equal(viewerDeny.code, 2);
    assert.match(viewerDeny.stderr, /denying access to prod needs the role admin/);
    assert.equal((await api(tokens.alice!, prodPath, { body: {} })).status, 403, 'nothing granted yet');
    await approve(id);
    const allowed = await api(tokens.alice!, prodPath, { body: { reason: 'the fix' } });
    assert.equal(allowed.status, 202, JSON.stringify(allowed.body));
    prodChanges.push(allowed.body.id as string);
    const op = await cp.engine.waitFor(allowed.body.id as string, 120_000);
    assert.equal(op?.status, 'succeeded');
    const promoted = await promote();
    assert.equal(promoted.status, 202, JSON.stringify(promoted.body));
    assert.equal(promoted.body.operation.createdBy, 'alice');
    prodChanges.push(promoted.body.operation.id as string);
    assert.equal(
      (await cp.engine.waitFor(promoted.body.operation.id as string, 120_000))?.status,
      'succeeded',
    );

    // A request nobody decided for a day cannot be approved any more.
    const stale = await request('alice', {
      target: 'releaseregistry',
      environment: 'prod',
      role: 'operate',
      duration: '1h',
      reason: 'old',
    });
    await cp.store.pool.query(
      `update access_requests set created_at = now() - interval '2 days' where id = $1`,
      [stale.id],
    );
    const late = await msp(tokens.bob!, ['access', 'approve', stale.id]);
    assert.equal(late.code, 2);
    assert.match(late.stderr, /has expired/);
  });

  test('pg connect in prod: refused without a grant; with one it connects, and the credential and its session end at expiry', async () => {
    const refused = await msp(tokens.alice!, ['pg', 'connect', 'releaseregistry', 'prod', '--print']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /restricted environment: alice needs an active db-read grant/);
    const asked = await request('alice', {
      target: 'releaseregistry',
      environment: 'prod',
      role: 'db-read',
      duration: '8s',
      reason: 'look at a row',
    });
    const grant = await approve(asked.id);
    const printed = await msp(tokens.alice!, ['pg', 'connect', 'releaseregistry', 'prod', '--json']);
    assert.equal(printed.code, 0, printed.stderr);
    const creds = JSON.parse(printed.stdout) as Json;
    const told = await msp(tokens.alice!, ['pg', 'connect', 'releaseregistry', 'prod', '--print']);
    assert.match(told.stderr, /valid until .* \(the end of your access grant\)/);
    assert.ok(
      Date.parse(creds.validUntil as string) <= Date.parse(grant.endsAt) + 1000,
      'the credential ends with the grant',
    );
    const client = await session(creds);
    assert.equal((await client.query('select 1 as one')).rows[0].one, 1);
    await eventually('the open session to end at expiry', 30_000, async () =>
      (await client.query('select 1').then(
        () => false,
        () => true,
      ))
        ? true
        : undefined,
    );
    await assert.rejects(session(creds), 'the credential no longer signs in');
    await client.end().catch(() => undefined);
    const after = await dbCredentials('alice', 'read');
    assert.equal(after.status, 403);
  });

  test('revoking a grant early ends its database credential and open sessions', async () => {
    const asked = await request('alice', {
      target: 'releaseregistry',
      environment: 'prod',
      role: 'db-write',
      duration: '1h',
      reason: 'fix a row',
    });
    await approve(asked.id);
    const creds = await dbCredentials('alice', 'write');
    assert.equal(creds.status, 201, JSON.stringify(creds.body));
    const client = await session(creds.body);
    await client.query('select 1');
    const revoked = await msp(tokens.bob!, ['access', 'revoke', asked.id, '--reason', 'done']);
    assert.equal(revoked.code, 0, revoked.stderr);
    await eventually('the session to end at revoke', 20_000, async () =>
      (await client.query('select 1').then(
        () => false,
        () => true,
      ))
        ? true
        : undefined,
    );
    await assert.rejects(session(creds.body));
    await client.end().catch(() => undefined);
  });

  test('break-glass: admins only, granted at once, announced as an event', async () => {
    const body = {
      target: 'releaseregistry',
      environment: 'prod',
      role: 'operate',
      duration: '30m',
      reason: 'outage',
      breakGlass: true,
    };
    const denied = await api(tokens.alice!, '/access/requests', { body });
    assert.equal(denied.status, 403);
    const glass = await request('bob', body);
    grantIds.push(glass.id);
    assert.ok(glass.endsAt);
    const events = await cp.store.listEvents({ deploymentKey: 'releaseregistry/prod' });
    assert.ok(events.some((e) => e.kind === 'access-break-glass' && e.message.includes('bob')));
    const change = await api(
      tokens.bob!,
      `/deployments/${encodeURIComponent('releaseregistry/prod')}/deploy`,
      { body: {} },
    );
    assert.equal(change.status, 202, JSON.stringify(change.body));
    prodChanges.push(change.body.id as string);
    await cp.engine.waitFor(change.body.id as string, 120_000);
  });

  test('OIDC: a JWT of the configured issuer signs in; a foreign, expired or wrong-audience one is 401', async () => {
    const { privateKey } = await keys;
    const jwt = (
      claims: Json,
      opts: { aud?: string; exp?: string; key?: Parameters<SignJWT['sign']>[0] } = {},
    ) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(issuerUrl)
        .setAudience(opts.aud ?? 'msp-test')
        .setIssuedAt()
        .setExpirationTime(opts.exp ?? '5m')
        .sign(opts.key ?? privateKey);
    const good = await jwt({ email: 'carol@example.com', msp_role: 'viewer' });
    const me = await api(good, '/whoami');
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.deepEqual([me.body.name, me.body.role], ['carol@example.com', 'viewer']);
    assert.equal((await api(good, '/deployments/releaseregistry%2Fdev/deploy', { body: {} })).status, 403);
    const posing = await jwt({ email: 'admin', msp_role: 'admin' });
    assert.equal((await api(posing, '/whoami')).status, 401, 'a JWT cannot pose as the bootstrap admin');
    const foreign = await jwt(
      { email: 'carol@example.com' },
      { key: (await generateKeyPair('ES256')).privateKey },
    );
    assert.equal((await api(foreign, '/whoami')).status, 401);
    assert.equal(
      (await api(await jwt({ email: 'x@example.com', msp_role: 'admin' }, { aud: 'other' }), '/whoami'))
        .status,
      401,
    );
    assert.equal(
      (await api(await jwt({ email: 'x@example.com', msp_role: 'admin' }, { exp: '-1m' }), '/whoami')).status,
      401,
    );
    const signIns = await api(cp.adminToken, '/audit?action=sign-in&actor=carol%40example.com');
    assert.equal(signIns.body.records[0]?.data.via, 'oidc');
  });

  test('evidence of the test period lists exactly its production changes, grants, backups and drills', async () => {
    // Backups and drills change nothing: an operator runs them in prod without a grant.
    const finished = async (path: string) => {
      const r = await api(tokens.alice!, path, { body: { deployment: 'releaseregistry/prod' } });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const op = await cp.engine.waitFor(r.body.id as string, 180_000);
      assert.equal(op?.status, 'succeeded', op?.error);
      return op;
    };
    const backup = await finished('/backups');
    await finished('/backups/drills');
    const out = await mkdtemp(join(tmpdir(), 'msp-evidence-'));
    try {
      const to = new Date(Date.now() + 1000).toISOString();
      const r = await msp(cp.adminToken, [
        'audit',
        'evidence',
        '--from',
        periodStart,
        '--to',
        to,
        '--out',
        out,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const changes = JSON.parse(await readFile(join(out, 'changes.json'), 'utf8')) as Json;
      assert.match(changes.chain.head as string, /^[0-9a-f]{64}$/);
      assert.equal(changes.chain.verified, true);
      assert.deepEqual((changes.changes as Json[]).map((c) => c.operation).sort(), [...prodChanges].sort());
      const first = (changes.changes as Json[]).find((c) => c.operation === prodChanges[0])!;
      assert.deepEqual(
        [first.requestedBy, first.approvedBy, first.authority],
        ['alice', 'bob', 'approved grant'],
      );
      const grants = JSON.parse(await readFile(join(out, 'grants.json'), 'utf8')) as Json;
      assert.deepEqual((grants.grants as Json[]).map((g) => g.id).sort(), [...grantIds].sort());
      const md = await readFile(join(out, 'grants.md'), 'utf8');
      assert.match(md, new RegExp(`chain head \`${changes.chain.head as string}\``));
      const backups = JSON.parse(await readFile(join(out, 'backups.json'), 'utf8')) as Json;
      assert.deepEqual(
        (backups.backups.backups as Json[]).map((b) => b.id),
        [backup.result?.backupId],
      );
      assert.deepEqual(
        (backups.backups.drills as Json[]).map((d) => [d.deployment, d.backup]),
        [['releaseregistry/prod', backup.result?.backupId]],
      );
      assert.match(await readFile(join(out, 'backups.md'), 'utf8'), /Latest successful restore drill/);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  test('the audit log records changes, steps, sign-ins and grants; it is append-only; verify names a tampered record', async () => {
    const listed = await msp(cp.adminToken, [
      'audit',
      'list',
      '--actor',
      'alice',
      '--limit',
      '1000',
      '--json',
    ]);
    assert.equal(listed.code, 0, listed.stderr);
    const actions = new Set((JSON.parse(listed.stdout) as Json[]).map((r) => r.action));
    for (const a of [
      'api.post',
      'sign-in',
      'access.request',
      'operation.step.succeeded',
      'access.db-credential',
    ]) {
      assert.ok(actions.has(a), `alice's ${a} is recorded`);
    }
    const bobs = JSON.parse(
      (await msp(cp.adminToken, ['audit', 'list', '--actor', 'bob', '--json'])).stdout,
    ) as Json[];
    assert.ok(
      bobs.some((r) => r.action === 'access.approve') && bobs.some((r) => r.action === 'access.break-glass'),
    );
    const seen = JSON.parse(
      (await msp(cp.adminToken, ['audit', 'list', '--actor', 'reconciler', '--action', 'config.', '--json']))
        .stdout,
    ) as Json[];
    assert.ok(
      seen.some((r) => r.target === 'releaseregistry/prod'),
      'the platform repo change the reconciler applied is recorded',
    );
    const ok = await msp(cp.adminToken, ['audit', 'verify']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /audit log intact: \d+ records/);

    // The role the control plane serves with cannot change or remove a record.
    await assert.rejects(
      cp.store.pool.query(`update audit_log set actor = 'mallory' where seq = 3`),
      /append-only/,
    );
    await assert.rejects(cp.store.pool.query('delete from audit_log where seq = 3'), /append-only/);
    // Someone with the database's superuser bypasses the trigger: the chain shows where.
    const db = await cp.store.pool.connect();
    try {
      await db.query(`set session_replication_role = replica`);
      await db.query(`update audit_log set actor = 'mallory' where seq = 5`);
      await db.query(`set session_replication_role = origin`);
    } finally {
      db.release();
    }
    const broken = await msp(cp.adminToken, ['audit', 'verify']);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /audit chain broken at record 5: its contents do not match its hash/);
  });
});
