// Client commands find the control plane `msp up` runs by default: run from a checkout's root (no
// msp.yaml there), `msp up` runs examples/platform, and `msp status` must find it there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runMsp } from './testing.js';

test('msp status from the checkout root finds the control plane of examples/platform; --repo elsewhere does not', async () => {
  // A checkout of its own (the CLI, its dependencies, examples/platform), so the real examples stay untouched.
  const root = await mkdtemp(join(tmpdir(), 'msp-checkout-'));
  const token = 'msp_default-repo-test';
  const server = http.createServer((req, res) => {
    const ok = req.url === '/api/v1/status' && req.headers.authorization === `Bearer ${token}`;
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify(
        ok
          ? { proxyUrl: null, deployments: [{ key: 'releaseregistry/dev', status: 'healthy' }] }
          : { error: { code: 'unauthenticated', message: 'no' } },
      ),
    );
  });
  try {
    for (const part of ['bin', 'dist', 'package.json']) {
      await cp(join(ROOT, 'packages', 'cli', part), join(root, 'packages', 'cli', part), { recursive: true });
    }
    await symlink(join(ROOT, 'node_modules'), join(root, 'node_modules'));
    const data = join(root, 'examples', 'platform', '.msp');
    await mkdir(data, { recursive: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await writeFile(
      join(data, 'control-plane.json'),
      JSON.stringify({
        url: `http://127.0.0.1:${port}`,
        pid: process.pid,
        repo: join(root, 'examples', 'platform'),
      }),
    );
    await writeFile(join(data, 'admin-token'), `${token}\n`, { mode: 0o600 });
    const bin = join(root, 'packages', 'cli', 'bin', 'msp.js');

    const found = await runMsp(['status', '--json'], root, bin);
    assert.equal(found.code, 0, found.stderr);
    const status = JSON.parse(found.stdout) as { deployments: Array<{ key: string }> };
    assert.deepEqual(
      status.deployments.map((d) => d.key),
      ['releaseregistry/dev'],
    );

    // A directory that is a platform repo of its own means that repo, as for `msp up`: no fallback.
    const other = join(root, 'other');
    await mkdir(other);
    await writeFile(join(other, 'msp.yaml'), 'organization: { name: Other }\n');
    const mine = await runMsp(['status'], other, bin);
    assert.equal(mine.code, 1);
    assert.match(mine.stderr, /No running control plane found for .*other: start one with `msp up`/);
    const named = await runMsp(['status', '--repo', other], root, bin);
    assert.equal(named.code, 1);
    assert.doesNotMatch(named.stderr, /examples/);
  } finally {
    server.close();
    await rm(root, { recursive: true, force: true });
  }
});
