#!/usr/bin/env node
// Builds the folder of one release of sampleproduct: the code, package.json with the release's version,
// and exactly the migrations that version ships (releases.json). `msp release create sampleproduct
// --version v1.1.0 --from <that folder>` then registers it.
//
//   node examples/sampleproduct/stage.mjs v1.1.0 /tmp/sampleproduct-v1.1.0
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

/** The versions releases.json declares, oldest first. */
export function sampleProductVersions() {
  return Object.keys(JSON.parse(readFileSync(join(here, 'releases.json'), 'utf8')).versions);
}

/** Writes the release folder of `version` into `into` (created); returns `into`. */
export function stageSampleProduct(version, into) {
  const { versions } = JSON.parse(readFileSync(join(here, 'releases.json'), 'utf8'));
  const release = versions[version];
  if (!release) {
    throw new Error(`sampleproduct has no version ${version}; it has ${Object.keys(versions).join(', ')}`);
  }
  mkdirSync(join(into, 'migrations'), { recursive: true });
  for (const file of ['server.js', 'db.js', 'migrate.js', 'README.md'])
    cpSync(join(here, file), join(into, file));
  for (const m of release.migrations) cpSync(join(here, m), join(into, 'migrations', basename(m)));
  const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
  writeFileSync(
    join(into, 'package.json'),
    JSON.stringify({ ...pkg, version: version.slice(1) }, null, 2) + '\n',
  );
  return into;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [version, into] = process.argv.slice(2);
  if (!version || !into) {
    console.error(
      `usage: node stage.mjs <version> <folder>   (versions: ${sampleProductVersions().join(', ')})`,
    );
    process.exit(2);
  }
  console.log(stageSampleProduct(version, into));
}
