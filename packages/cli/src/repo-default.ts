/**
 * Which platform repo a command means when `--repo` is not given, the same for `msp up` and for every
 * client command: the current directory when it has msp.yaml, else the example platform repo beside the
 * CLI (examples/platform). So `msp status` run where `npx msp up` was run finds that control plane.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The example platform repo, from this file's place in the package (dist/repo-default.js). */
export const EXAMPLE_REPO = fileURLToPath(new URL('../../../examples/platform', import.meta.url));

export function defaultRepo(cwd = process.cwd()): string {
  return existsSync(join(cwd, 'msp.yaml')) ? cwd : EXAMPLE_REPO;
}

/** The nearest `.msp` with a running control plane's address, from `start` up. */
function findDataDir(start: string): string | undefined {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, '.msp', 'control-plane.json'))) return join(dir, '.msp');
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The data dir of the control plane a client command talks to: found from `--repo` (or the current
 * directory) upwards, else, without `--repo`, the one `msp up` runs by default.
 */
export function controlPlaneDataDir(repo: string | undefined, cwd = process.cwd()): string | undefined {
  if (repo !== undefined) return findDataDir(repo);
  const found = findDataDir(cwd);
  if (found) return found;
  const fallback = join(defaultRepo(cwd), '.msp');
  return existsSync(join(fallback, 'control-plane.json')) ? fallback : undefined;
}

/** Where a client command looked, for the message when nothing runs there. */
export function searchedPlaces(repo: string | undefined, cwd = process.cwd()): string {
  const first = resolve(repo ?? cwd);
  const fallback = defaultRepo(cwd);
  return repo === undefined && fallback !== cwd ? `${first} nor for ${fallback}` : first;
}
