import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { generate, promoteKubernetes, readGenerated, writeGenerated } from './index.js';
import { edit, examplePlatform, load } from './testing/fixture.js';

const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-C', dir, '-c', 'user.name=T', '-c', 'user.email=t@example.com', ...args], {
    encoding: 'utf8',
  });

async function committed(envs: readonly string[]): Promise<string> {
  const dir = await examplePlatform('kubernetes', envs);
  const root = join(dir, 'generated');
  await writeGenerated(
    root,
    generate(await load(dir), { target: 'kubernetes', readExisting: readGenerated(root) }),
  );
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'init');
  return dir;
}

void test('promotion refuses the first stage, an unknown stage and a suspended rollout', async (t) => {
  const dir = await committed(['dev', 'prod']);
  t.after(() => rm(dir, { recursive: true, force: true }));
  const repo = await load(dir);
  await assert.rejects(
    promoteKubernetes(repo, 'releaseregistry', { to: 'dev' }),
    /dev is not a later stage of releaseregistry's rollout \(dev → prod\)/,
  );
  await assert.rejects(promoteKubernetes(repo, 'nope', {}), /No service `nope`/);
  await assert.rejects(promoteKubernetes(repo, 'sampleproduct', {}), /no rollout with two stages/);
  await edit(dir, 'services/releaseregistry/service.yaml', 'rollout:\n', 'rollout:\n  suspended: true\n');
  await assert.rejects(promoteKubernetes(await load(dir), 'releaseregistry', {}), /suspended/);
});

void test('from a stage that does not run on kubernetes, promotion needs --release, then commits it', async (t) => {
  const dir = await committed(['prod']);
  t.after(() => rm(dir, { recursive: true, force: true }));
  const repo = await load(dir);
  await assert.rejects(
    promoteKubernetes(repo, 'releaseregistry', {}),
    /stage dev does not run on kubernetes.*pass --release <version>/,
  );
  const result = await promoteKubernetes(repo, 'releaseregistry', { release: 'v0.3.0' });
  assert.deepEqual(
    { ...result, commit: typeof result.commit },
    {
      service: 'releaseregistry',
      from: 'dev',
      to: 'prod',
      release: 'v0.3.0',
      file: 'generated/kubernetes/prod/releaseregistry/kustomization.yaml',
      commit: 'string',
    },
  );
  assert.equal(git(dir, 'log', '-1', '--format=%s'), 'Promote releaseregistry v0.3.0 from dev to prod\n');
});
