/**
 * Generated files on disk: reading what is there, writing a run's files, and `--check` for CI. Synchronous
 * file calls: thousands of small files go several times faster than one awaited promise each.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { GenerateResult } from './generate.js';

/** A reader of files already generated under `root` (for pinned releases). */
export function readGenerated(root: string): (path: string) => string | undefined {
  return (path) => {
    try {
      return readFileSync(join(root, path), 'utf8');
    } catch {
      return undefined;
    }
  };
}

function listFiles(root: string, dir: string, out: string[] = []): string[] {
  let entries;
  try {
    entries = readdirSync(join(root, dir), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const rel = dir === '' ? e.name : `${dir}/${e.name}`;
    if (e.isDirectory()) listFiles(root, rel, out);
    else out.push(rel);
  }
  return out;
}

export interface CheckResult {
  /** Files whose content differs from what would be generated. */
  changed: string[];
  /** Files that would be generated and are missing. */
  missing: string[];
  /** Files in the generated folders that would not be generated. */
  extra: string[];
}

export function checkGenerated(root: string, result: GenerateResult): Promise<CheckResult> {
  const want = new Map(result.files.map((f) => [f.path, f.content]));
  const have = new Set<string>();
  for (const scope of result.scopes) for (const f of listFiles(root, scope)) have.add(f);
  const read = readGenerated(root);
  const changed: string[] = [];
  const missing: string[] = [];
  for (const [path, content] of want) {
    const current = have.has(path) ? read(path) : undefined;
    if (current === undefined) missing.push(path);
    else if (current !== content) changed.push(path);
  }
  const extra = [...have].filter((p) => !want.has(p)).sort();
  return Promise.resolve({ changed: changed.sort(), missing: missing.sort(), extra });
}

/** Writes every changed or missing file and removes the stale ones in the run's folders. Returns what changed. */
export async function writeGenerated(root: string, result: GenerateResult): Promise<CheckResult> {
  const check = await checkGenerated(root, result);
  const byPath = new Map(result.files.map((f) => [f.path, f.content]));
  const made = new Set<string>();
  for (const path of [...check.changed, ...check.missing]) {
    const file = join(root, path);
    if (relative(root, file).startsWith(`..${sep}`))
      throw new Error(`refusing to write outside ${root}: ${path}`);
    const dir = dirname(file);
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    writeFileSync(file, byPath.get(path)!);
  }
  for (const path of check.extra) rmSync(join(root, path), { force: true });
  return check;
}
