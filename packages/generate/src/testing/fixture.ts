/** A copy of examples/platform with chosen environments switched to another runtime (tests only). */
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPlatformRepo, type PlatformRepo } from '@msp/spec';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
export const EXAMPLE = join(REPO_ROOT, 'examples', 'platform');

/** Copies examples/platform to a scratch folder, with `runtime: <runtime>` for the given environments. */
export async function examplePlatform(runtime: string, envs: readonly string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'msp-generate-'));
  await cp(EXAMPLE, dir, { recursive: true, filter: (src) => !src.includes(`${EXAMPLE}/generated`) });
  const file = join(dir, 'msp.yaml');
  let text = await readFile(file, 'utf8');
  for (const env of envs) {
    const re = new RegExp(`(- id: ${env}\\n(?:\\s+[^\\n]*\\n)*?\\s+runtime: )local`);
    if (!re.test(text)) throw new Error(`environment ${env} not found in msp.yaml`);
    text = text.replace(re, `$1${runtime}`);
  }
  await writeFile(file, text);
  return dir;
}

export async function load(dir: string): Promise<PlatformRepo> {
  const { repo, diagnostics } = await loadPlatformRepo(dir);
  if (!repo) throw new Error(diagnostics.map((d) => `${d.file}:${d.line}: ${d.message}`).join('\n'));
  return repo;
}

/** Replaces `from` with `to` in a repo file (exactly once). */
export async function edit(dir: string, file: string, from: string, to: string): Promise<void> {
  const path = join(dir, file);
  const text = await readFile(path, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} does not contain ${from}`);
  await writeFile(path, text.replace(from, to));
}
