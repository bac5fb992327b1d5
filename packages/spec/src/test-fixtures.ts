/** Helpers for tests: platform repos built in temp dirs from strings. Not part of the public API. */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const PLATFORM_YAML = `organization:
  name: Acme Corp
baseDomain: acme.localhost
environments:
  - id: dev
    category: test
  - id: prod
    category: internal
`;

export const PRODUCT_YAML = `service:
  id: product
  owners: [team]
  description: A product.
environments:
  - id: dev
    category: test
    deploy: { type: manual }
  - id: prod
    category: internal
    deploy: { type: manual }
`;

/** Writes `files` (repo-relative path → content) into a fresh temp dir; `cleanup` removes it. */
export async function makeRepo(
  files: Record<string, string>,
): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'msp-spec-'));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}
