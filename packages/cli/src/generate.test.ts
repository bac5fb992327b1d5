import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runMsp } from './testing.js';

const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-C', dir, '-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args], {
    encoding: 'utf8',
  });

/** examples/platform with dev and prod on kubernetes, generated and committed in a git repo of its own. */
async function kubernetesRepo(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'msp-gitops-'));
  await cp(join(ROOT, 'examples', 'platform'), dir, { recursive: true });
  const msp = join(dir, 'msp.yaml');
  await writeFile(msp, (await readFile(msp, 'utf8')).replaceAll('runtime: local', 'runtime: kubernetes'));
  git(dir, 'init', '-q', '-b', 'main');
  const generated = await runMsp(['generate', '--repo', dir]);
  assert.equal(generated.code, 0, generated.stderr);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'platform repo with generated manifests');
  return dir;
}

void test('msp rollout promote on a kubernetes stage commits only that release reference; --check stays clean', async (t) => {
  const dir = await kubernetesRepo();
  t.after(() => rm(dir, { recursive: true, force: true }));
  // A release delivered to the first stage (what a delivery commits).
  const devFile = join(dir, 'generated/kubernetes/dev/releaseregistry/kustomization.yaml');
  await writeFile(devFile, (await readFile(devFile, 'utf8')).replace('newTag: insiders', 'newTag: v0.2.0'));
  git(dir, 'commit', '-qam', 'deliver v0.2.0 to dev');
  const before = git(dir, 'rev-parse', 'HEAD').trim();

  const promoted = await runMsp(['rollout', 'promote', 'releaseregistry', '--repo', dir], dir);
  assert.equal(promoted.code, 0, promoted.stderr);
  assert.match(promoted.stdout, /releaseregistry v0\.2\.0: dev → prod, committed [0-9a-f]{12}/);
  // Exactly one commit, changing one line of one file: prod's pinned release.
  assert.equal(git(dir, 'rev-list', '--count', `${before}..HEAD`).trim(), '1');
  assert.equal(
    git(dir, 'show', '--name-only', '--format=', 'HEAD').trim(),
    'generated/kubernetes/prod/releaseregistry/kustomization.yaml',
  );
  const changes = git(dir, 'show', '--format=', '-U0', 'HEAD')
    .split('\n')
    .filter((l) => /^[+-][^+-]/.test(l));
  assert.deepEqual(changes, ['-    newTag: insiders', '+    newTag: v0.2.0']);
  assert.equal(git(dir, 'status', '--porcelain'), '');
  // Regenerating keeps the promoted release: nothing is stale.
  const check = await runMsp(['generate', '--check', '--repo', dir]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  // Promoting again has nothing to commit.
  const again = await runMsp(['rollout', 'promote', 'releaseregistry', '--repo', dir], dir);
  assert.match(again.stdout, /already pins v0\.2\.0/);
  assert.equal(git(dir, 'rev-list', '--count', `${before}..HEAD`).trim(), '1');
});

void test('msp generate --check names every stale file and fails; bad input exits 2 and writes nothing', async (t) => {
  const dir = await kubernetesRepo();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const spec = join(dir, 'services/releaseregistry/service.yaml');
  const original = await readFile(spec, 'utf8');
  await writeFile(spec, original.replace('memory: 1Gi', 'memory: 2Gi'));
  const stale = await runMsp(['generate', '--check', '--repo', dir]);
  assert.equal(stale.code, 1);
  assert.match(stale.stdout, /stale +kubernetes\/prod\/releaseregistry\/deployment\.yaml/);
  assert.match(stale.stderr, /1 generated file is stale: run `msp generate`/);

  await writeFile(
    spec,
    original.replace(
      'monitoring:\n  alerts:\n',
      "monitoring:\n  alerts:\n    customAlerts:\n      - name: Queue\n        description: Long queue.\n        condition:\n          type: mql\n          query: 'fetch x'\n",
    ),
  );
  const bad = await runMsp(['generate', '--repo', dir]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /monitoring\.alerts\.customAlerts\[0\]\.condition\.type: the kubernetes target cannot express this/,
  );
  assert.equal(git(dir, 'status', '--porcelain', '--', 'generated'), '');
  const unknown = await runMsp(['generate', '--target', 'nomad', '--repo', dir]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--target must be one of kubernetes, gcp/);
});

void test('msp up says which deployments it does not run on this machine, and why', async (t) => {
  const dir = await kubernetesRepo();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { notRunHere } = await import('./commands/up-targets.js');
  const saved = { k: process.env.KUBECONFIG, m: process.env.MSP_KUBECONFIG };
  delete process.env.KUBECONFIG;
  delete process.env.MSP_KUBECONFIG;
  try {
    const lines = await notRunHere(dir);
    assert.equal(lines.length, 8);
    assert.equal(
      lines.find((l) => l.includes('releaseregistry/prod')),
      'msp: not run on this machine: releaseregistry/prod: environment prod has runtime kubernetes, so `msp generate` writes it to generated/kubernetes/prod/releaseregistry and Argo CD applies it; generated, not observed (set KUBECONFIG to read its status from the cluster)',
    );
  } finally {
    if (saved.k !== undefined) process.env.KUBECONFIG = saved.k;
    if (saved.m !== undefined) process.env.MSP_KUBECONFIG = saved.m;
  }
});
