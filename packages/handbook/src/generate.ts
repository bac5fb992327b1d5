/**
 * Generates the operations handbook of a platform repo: `index.md`, one page per service and one
 * architecture diagram per service environment. Pure apart from Graphviz: the same repo, date and
 * revision give byte-identical files.
 */
import type { PlatformRepo } from '@msp/spec';
import { renderArchitectureDiagram } from './diagram.js';
import { indexPage } from './index-page.js';
import {
  architectureModel,
  diagramPath,
  environmentViews,
  servicePage,
  type PageContext,
} from './service-page.js';

export interface GenerateHandbookOptions {
  readonly repo: PlatformRepo;
  /** The time the pages say they were generated. */
  readonly date: Date;
  /** The platform repo revision the pages were generated from; default "unknown". */
  readonly revision?: string;
  /** Folder the pages go to, relative to the repo root (may lead outside it); for relative links into the repo. Default `docs`. */
  readonly docsDir?: string;
}

export interface HandbookFile {
  /** Relative to the output folder. */
  readonly path: string;
  readonly content: string | Uint8Array;
}

/** RFC 3339 in UTC, without milliseconds when they are zero: `2026-01-01T00:00:00Z`. */
export function formatTimestamp(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('the handbook date is not a valid time');
  return date.toISOString().replace(/\.000Z$/, 'Z');
}

export async function generateHandbook(options: GenerateHandbookOptions): Promise<HandbookFile[]> {
  const { repo } = options;
  const ctx: PageContext = {
    repo,
    platform: repo.platform,
    root: repo.root,
    docsDir: options.docsDir ?? 'docs',
    generatedAt: formatTimestamp(options.date),
    revision: options.revision ?? 'unknown',
  };
  const files: HandbookFile[] = [{ path: 'index.md', content: indexPage(ctx, repo) }];
  for (const service of repo.services) {
    const id = service.spec.service.id;
    const views = environmentViews(ctx, service);
    files.push({ path: `${id}.md`, content: servicePage(ctx, service, views) });
    for (const view of views) {
      files.push({
        path: diagramPath(id, view.env.id),
        content: await renderArchitectureDiagram(architectureModel(service, view)),
      });
    }
  }
  return files;
}
