/** Fixtures for the handbook tests: real platform repos, loaded by the real loader. */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDiagnostic, loadPlatformRepo } from '@msp/spec';
import type { PlatformRepo } from '@msp/spec';

/** The committed example platform repo (examples/platform), from the compiled test's location. */
export const EXAMPLES_PLATFORM = fileURLToPath(new URL('../../../examples/platform/', import.meta.url));

export async function loadRepo(dir: string): Promise<PlatformRepo> {
  const { repo, diagnostics } = await loadPlatformRepo(dir);
  if (repo === undefined || diagnostics.length > 0)
    throw new Error(
      `fixture repo ${dir} is invalid:\n${diagnostics.map((d) => formatDiagnostic(d)).join('\n')}`,
    );
  return repo;
}

/** Writes the given files into a fresh temp dir, loads it as a platform repo, and removes it afterwards. */
export async function withRepo<T>(
  files: Record<string, string>,
  fn: (repo: PlatformRepo) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'msp-handbook-'));
  try {
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    return await fn(await loadRepo(dir));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const DATE = new Date('2026-01-01T00:00:00Z');
