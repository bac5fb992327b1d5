import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  appendFile,
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { InputError } from '@msp/core';
import { serviceOsUser } from '../postgres/os-user.js';
import { createArtifactStore, findNodeModules } from './artifact-store.js';

const run = promisify(execFile);
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

/** The store's temp leftovers: nothing may start with ".pack-" after a failed pack. */
async function leftovers(root: string): Promise<string[]> {
  const names = await readdir(join(root, 'artifacts', 'sha256')).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith('.pack-'));
}

test('a symlink that would not survive the move is refused while packing, naming it and the fix', async () => {
  const outside = await temp('outside');
  await writeFile(join(outside, 'secret.txt'), 'not part of the release');
  const cases: { name: string; make: (src: string) => Promise<void>; why: RegExp }[] = [
    {
      name: 'absolute',
      make: (src) => symlink('/etc/hostname', join(src, 'host')),
      why: /host is a symlink to the absolute path \/etc\/hostname/,
    },
    {
      name: 'leaving',
      make: (src) => symlink(join('..', '..', basename(outside), 'secret.txt'), join(src, 'lib', 'escape')),
      why: /lib\/escape is a symlink leaving the folder/,
    },
    {
      name: 'loop',
      make: async (src) => {
        await symlink('b', join(src, 'lib', 'a'));
        await symlink('a', join(src, 'lib', 'b'));
      },
      why: /lib\/a is a symlink loop/,
    },
  ];
  for (const c of cases) {
    const root = await temp(`link-${c.name}`);
    const src = await temp(`src-${c.name}`);
    await mkdir(join(src, 'lib'));
    await writeFile(join(src, 'server.js'), 'console.log("hi")\n');
    await c.make(src);
    const store = createArtifactStore({ root });
    await assert.rejects(store.pack(src), (error: unknown) => {
      assert.ok(error instanceof InputError, `${c.name}: ${String(error)}`);
      assert.match(error.message, c.why);
      assert.match(error.message, /replace it with a copy of what it points to, or a relative link/);
      return true;
    });
    assert.deepEqual(await leftovers(root), [], `${c.name}: no temp file left`);
  }
  // A relative link inside the folder is fine, and arrives as a link.
  const root = await temp('link-ok');
  const src = await temp('src-ok');
  await mkdir(join(src, 'lib'));
  await writeFile(join(src, 'lib', 'real.js'), 'export {}\n');
  await symlink('real.js', join(src, 'lib', 'alias.js'));
  const store = createArtifactStore({ root });
  const dir = await store.extract((await store.pack(src)).digest);
  assert.equal(await readFile(join(dir, 'lib', 'alias.js'), 'utf8'), 'export {}\n');
});

test('an unreadable file is refused while packing, naming it, and leaves no temp file', async () => {
  const base = await temp('unreadable');
  await chmod(base, 0o777);
  const root = join(base, 'store');
  const src = join(base, 'src');
  await mkdir(join(src, 'conf'), { recursive: true, mode: 0o755 });
  await chmod(src, 0o755);
  await writeFile(join(src, 'server.js'), 'console.log("hi")\n', { mode: 0o644 });
  await writeFile(join(src, 'conf', 'private.key'), 'secret', { mode: 0o600 });
  await chmod(join(src, 'conf', 'private.key'), 0o000);
  let outcome: { error?: string; name?: string; left: string[] };
  if (process.getuid?.() === 0) {
    // Root reads everything: pack as an unprivileged user, as `msp release create --from /etc` would.
    const script =
      `const { createArtifactStore } = await import(${JSON.stringify(new URL('./artifact-store.js', import.meta.url).href)});` +
      `const { readdir } = await import('node:fs/promises');` +
      `let error, name; try { await createArtifactStore({ root: ${JSON.stringify(root)} }).pack(${JSON.stringify(src)}); }` +
      ` catch (e) { error = e.message; name = e.constructor.name; }` +
      `const left = (await readdir(${JSON.stringify(join(root, 'artifacts', 'sha256'))}).catch(() => [])).filter((n) => n.startsWith('.pack-'));` +
      `console.log(JSON.stringify({ error, name, left }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      uid: 65534,
      gid: 65534,
      cwd: base,
    });
    outcome = JSON.parse(stdout) as typeof outcome;
  } else {
    try {
      await createArtifactStore({ root }).pack(src);
      outcome = { left: await leftovers(root) };
    } catch (error) {
      outcome = {
        error: (error as Error).message,
        name: (error as Error).constructor.name,
        left: await leftovers(root),
      };
    }
  }
  assert.equal(outcome.name, 'InputError', JSON.stringify(outcome));
  assert.match(outcome.error ?? '', /conf\/private\.key is not readable/);
  assert.match(outcome.error ?? '', /leave it out of the release/);
  assert.deepEqual(outcome.left, []);
});

test('extracted code is readable by the service user and nobody else, and writable by neither', async (t) => {
  const user = await serviceOsUser();
  if (!user.switchUser) {
    t.skip('not root: instances run as the current user, who owns the code');
    return;
  }
  const root = await temp('shared');
  await chmod(root, 0o711);
  const src = await temp('shared-src');
  await writeFile(join(src, 'main.js'), 'console.log("hi")\n');
  const store = createArtifactStore({ root });
  const packed = await store.pack(src);
  const dir = await store.extract(packed.digest, { readableByGroup: user.gid });
  const as = (name: string, script: string) =>
    run('su', ['-s', '/bin/sh', name, '-c', script]).then(
      (r) => r.stdout,
      () => 'denied',
    );
  assert.equal((await as(user.name, `cat ${join(dir, 'main.js')}`)).trim(), 'console.log("hi")');
  assert.equal(await as(user.name, `touch ${join(dir, 'new.js')} 2>/dev/null && echo wrote`), 'denied');
  assert.equal(await as('nobody', `cat ${join(dir, 'main.js')}`), 'denied');
});
