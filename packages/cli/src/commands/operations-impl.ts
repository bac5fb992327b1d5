/** The work of `msp operations generate-handbook-pages`, loaded only when the command runs. */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { formatDiagnostic, loadPlatformRepo } from '@msp/spec';
import { generateHandbook } from '@msp/handbook';
import { CliError, printJson } from '../cli-support.js';
import type { GenerateHandbookPagesOptions } from './operations.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses an RFC 3339 time; anything else is bad input naming the expected format. */
export function parseRfc3339(text: string): Date {
  const date = new Date(text);
  if (!RFC3339.test(text) || Number.isNaN(date.getTime())) {
    throw new CliError(
      `--date ${JSON.stringify(text)} is not an RFC 3339 time: use the form 2026-01-01T00:00:00Z (or with an offset, 2026-01-01T01:00:00+01:00)`,
      2,
    );
  }
  return date;
}

/** The commit the repo is at, or "unknown" when it is not a git checkout (or git is missing). */
async function gitRevision(repoDir: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('git', ['-C', repoDir, 'rev-parse', 'HEAD'], {
      timeout: 10_000,
    });
    const revision = stdout.trim();
    return /^[0-9a-f]{7,64}$/.test(revision) ? revision : 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function runGenerateHandbookPages(options: GenerateHandbookPagesOptions): Promise<void> {
  const date = options.date === undefined ? new Date() : parseRfc3339(options.date);
  const { repo, diagnostics } = await loadPlatformRepo(options.repo);
  if (repo === undefined || diagnostics.length > 0) {
    const text = diagnostics.map((d) => formatDiagnostic(d)).join('\n');
    process.stderr.write(`${text}\n`);
    throw new CliError(
      `the platform repo has ${diagnostics.length} error${diagnostics.length === 1 ? '' : 's'}; fix them (see \`msp spec validate\`) and generate again`,
      2,
    );
  }
  const out = resolve(options.out ?? join(repo.root, 'docs'));
  const docsDir = relative(repo.root, out).split(sep).join('/') || '.';
  const revision = options.revision ?? (await gitRevision(repo.root));
  const files = await generateHandbook({ repo, date, revision, docsDir });
  const written: { path: string; bytes: number }[] = [];
  for (const file of files) {
    const target = join(out, file.path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.content);
    written.push({
      path: target,
      bytes: typeof file.content === 'string' ? Buffer.byteLength(file.content) : file.content.byteLength,
    });
  }
  if (options.json) {
    printJson({ out, revision, date: date.toISOString(), files: written });
    return;
  }
  for (const file of written)
    process.stdout.write(`wrote ${relative(process.cwd(), file.path) || file.path}\n`);
  process.stdout.write(`${written.length} files generated from revision ${revision}\n`);
}
