/**
 * What the instance tests share (never part of the entry point): a platform repo (a git repo) with the
 * sample product, and its four releases staged from examples/sampleproduct and registered.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { uploadBundle } from '../testing/fixture-repo.js';

export const sampleProductDir = fileURLToPath(new URL('../../../../examples/sampleproduct', import.meta.url));

interface Stage {
  stageSampleProduct: (version: string, into: string) => string;
  sampleProductVersions: () => string[];
}
const stager = async () => (await import(join(sampleProductDir, 'stage.mjs'))) as Stage;

/** A platform repo with environments `dev` (test) and `prod`, the sample product and msp.yaml's instances block. */
export async function createInstanceRepo(
  extraMspYaml: string[] = [],
  migrator = ['node', 'migrate.js'],
): Promise<{ dir: string; baseDomain: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'msp-repo-instances-'));
  await chmod(dir, 0o711);
  const baseDomain = `i${Math.random().toString(36).slice(2, 8)}.localhost`;
  await writeFile(
    join(dir, 'msp.yaml'),
    [
      'organization:',
      '  name: Test Org',
      `baseDomain: ${baseDomain}`,
      'environments:',
      '  - id: dev',
      '    category: test',
      '    runtime: local',
      '  - id: prod',
      '    category: internal',
      '    runtime: local',
      'instances:',
      `  migrator: ${JSON.stringify(migrator)}`,
      ...extraMspYaml,
      '',
    ].join('\n'),
  );
  await mkdir(join(dir, 'services', 'sampleproduct'), { recursive: true });
  await writeFile(join(dir, 'services', 'sampleproduct', 'README.md'), '# Sample Product\n');
  await writeFile(
    join(dir, 'services', 'sampleproduct', 'service.yaml'),
    [
      'service:',
      '  id: sampleproduct',
      '  owners: [product]',
      '  description: The product customers get.',
      'build:',
      '  local:',
      `    dir: ${JSON.stringify(sampleProductDir)}`,
      "    command: ['node', 'server.js']",
      'environments:',
      ...['dev', 'prod'].flatMap((env) => [
        `  - id: ${env}`,
        `    category: ${env === 'dev' ? 'test' : 'internal'}`,
        '    deploy: { type: manual }',
        '    healthProbes: { healthzProbes: true, timeout: 2 }',
        '    resources:',
        '      postgreSQL:',
        '        databases: [sampleproduct]',
        '      volumes:',
        '        - name: uploads',
        '          sizeGB: 1',
      ]),
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, '.gitignore'), '.msp/\n');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' });
  git('init', '--quiet', '--initial-branch=main');
  git('add', '--all');
  git('-c', 'user.name=test', '-c', 'user.email=test@localhost', 'commit', '--quiet', '-m', 'platform repo');
  return { dir, baseDomain };
}

/** The commit subjects of the repo, newest first. */
export function gitLog(dir: string): string[] {
  return execFileSync('git', ['log', '--format=%s'], { cwd: dir, encoding: 'utf8' }).trim().split('\n');
}

/**
 * Stages, uploads and registers sampleproduct's releases in the control plane's embedded registry; those
 * in `publish` are promoted (public).
 */
export async function registerSampleReleases(
  cp: { url: string; adminToken: string },
  registryToken: string,
  versions: Array<{ version: string; from?: string; publish: boolean }>,
): Promise<void> {
  const { stageSampleProduct } = await stager();
  for (const v of versions) {
    const dir = await mkdtemp(join(tmpdir(), `sampleproduct-${v.version}-`));
    try {
      stageSampleProduct(v.from ?? v.version, dir);
      if (v.from) {
        const pkg = join(dir, 'package.json');
        const json = JSON.parse(await readFile(pkg, 'utf8')) as Record<string, unknown>;
        await writeFile(pkg, JSON.stringify({ ...json, version: v.version.slice(1) }));
      }
      const digest = await uploadBundle(cp, dir);
      const registry = async (path: string, body: unknown) => {
        const res = await fetch(`${cp.url}/registry/v1${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${registryToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      };
      await registry('/releases', {
        name: 'sampleproduct',
        version: v.version,
        git_sha: 'abcdef1',
        artifacts: [{ kind: 'bundle', digest, url: `file://${digest}` }],
      });
      if (v.publish) await registry(`/releases/sampleproduct/${v.version}/promote`, {});
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
