#!/usr/bin/env node
// tsc copies no .sql files: copy every packages/*/src/**/migrations/*.sql to the same place under dist, so
// the migrations ship in dist. Run by `npm run build` and `prepare` after `tsc -b`.
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
let copied = 0;
function walk(src, dist) {
  for (const name of readdirSync(src)) {
    const p = join(src, name);
    if (!statSync(p).isDirectory()) continue;
    if (name === 'migrations') {
      const files = readdirSync(p).filter((f) => f.endsWith('.sql'));
      mkdirSync(join(dist, relative(src, p)), { recursive: true });
      for (const f of files) copyFileSync(join(p, f), join(dist, relative(src, p), f));
      copied += files.length;
    } else walk(p, join(dist, name));
  }
}
for (const pkg of readdirSync(join(root, 'packages'))) {
  const src = join(root, 'packages', pkg, 'src');
  if (existsSync(src)) walk(src, join(root, 'packages', pkg, 'dist'));
}
console.log(`copy-migrations: ${copied} .sql files copied into dist`);
