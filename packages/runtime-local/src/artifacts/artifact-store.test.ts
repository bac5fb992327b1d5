import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createArtifactStore, findNodeModules } from './artifact-store.js';

const registryDir = fileURLToPath(new URL('../../../releaseregistry', import.meta.url));
const temps: string[] = [];
const temp = async (name: string) => {
  const d = await mkdtemp(join(tmpdir(), `msp-artifacts-${name}-`));
  temps.push(d);
  return d;
};
after(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

test('the Release Registry bundle packs to a stable digest and runs from its extracted dir', async () => {
  const root = await temp('registry');
  const store = createArtifactStore({ root });
  const a = await store.pack(registryDir);
  const b = await store.pack(registryDir);
  assert.match(a.digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(a.digest, b.digest, 'the same code gives the same digest');
  assert.ok(a.path.endsWith(`${a.digest.slice(7)}.tar.gz`));
  const nodeModules = findNodeModules(registryDir);
  assert.ok(nodeModules);
  const dir = await store.extract(a.digest, { nodeModules });
  assert.equal(dir, join(root, 'releases', a.digest.slice(7)));
  // package.json `files`: dist and src/migrations, never src/*.ts or node_modules of its own
  assert.ok(existsSync(join(dir, 'dist', 'main.js')));
  assert.ok(existsSync(join(dir, 'src', 'migrations')));
  assert.ok(!existsSync(join(dir, 'src', 'app.ts')));
  // its imports (hono, pg, @msp/core) resolve through the node_modules link, under ESM
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "const m = await import('./dist/index.js'); console.log(typeof m.createReleaseRegistryApp)",
    ],
    { cwd: dir },
  );
  assert.equal(stdout.trim(), 'function');
  // extracting again reuses the dir; no temp dirs are left behind
  assert.equal(await store.extract(a.digest, { nodeModules }), dir);
  assert.deepEqual(await readdir(join(root, 'releases')), [a.digest.slice(7)]);
});

test('a tampered artifact is refused naming its digest; a missing one too', async () => {
  const root = await temp('tamper');
  const src = await temp('src');
  await mkdir(join(src, 'node_modules', 'x'), { recursive: true });
  await writeFile(join(src, 'node_modules', 'x', 'index.js'), 'export {}');
  await writeFile(join(src, 'server.js'), 'console.log("hi")\n');
  const store = createArtifactStore({ root });
  const packed = await store.pack(src);
  const dir = await store.extract(packed.digest);
  assert.ok(existsSync(join(dir, 'server.js')));
  assert.ok(!existsSync(join(dir, 'node_modules')), 'node_modules is never packed');
  await appendFile(packed.path, 'x');
  await assert.rejects(
    store.verify(packed.digest),
    (e: Error) => e.message.includes(packed.digest) && /does not match/.test(e.message),
  );
  await assert.rejects(store.extract(packed.digest), /does not match/);
  const missing = `sha256:${'0'.repeat(64)}`;
  await assert.rejects(store.verify(missing), new RegExp(`${missing} is not in the artifact store`));
  await assert.rejects(store.verify('sha256:nope'), /Not a content digest/);
});
