#!/usr/bin/env node
// The `msp` command. The TypeScript sources build into ../dist on `npm install` (the root `prepare` script).
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error(
    'msp: the CLI is not built yet. Run `npm install` (or `npm run build`) at the repository root.',
  );
  process.exit(1);
}
await import(main.href);
