/**
 * The google provider's resource schema as shipped in the npm package `@cdktf/provider-google` (tests only):
 * each `lib/<resource>/index.js` is generated from the provider schema and carries the Terraform resource
 * type (`tfResourceType`) and, in its `…ToTerraform` functions and `synthesizeAttributes`, every attribute
 * and nested block by its Terraform name. Only that data is read; no CDKTF code runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Attributes of a block: null for a plain attribute, the nested block's schema otherwise. */
export interface BlockSchema {
  [attribute: string]: BlockSchema | null;
}

const require = createRequire(import.meta.url);
export const PROVIDER_PACKAGE = '@cdktf/provider-google';

export function providerDir(): string {
  return dirname(require.resolve(`${PROVIDER_PACKAGE}/package.json`));
}

export function providerVersion(): string {
  return (JSON.parse(readFileSync(join(providerDir(), 'package.json'), 'utf8')) as { version: string })
    .version;
}

/** `return { a: x, b: y };` bodies: attribute name → the expression text. */
function returnedObject(body: string): Map<string, string> {
  const out = new Map<string, string>();
  const start = body.lastIndexOf('return {');
  if (start < 0) return out;
  const text = body.slice(start + 'return {'.length, body.indexOf('\n    };', start));
  for (const line of text.split('\n')) {
    const m = /^\s+([a-z0-9_]+): (.*),$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

function parseModule(source: string): { type: string; root: BlockSchema } {
  const type = /\.tfResourceType = "([a-z0-9_]+)";/.exec(source)?.[1];
  if (!type) throw new Error('no tfResourceType');
  const functions = new Map<string, string>();
  const re = /^function (\w+ToTerraform)\(struct\) \{\n([\s\S]*?)\n\}$/gm;
  for (let m = re.exec(source); m; m = re.exec(source))
    if (!m[1]!.endsWith('ToHclTerraform')) functions.set(m[1]!, m[2]!);
  const cache = new Map<string, BlockSchema>();
  const block = (attrs: Map<string, string>): BlockSchema => {
    const out: BlockSchema = {};
    for (const [name, expr] of attrs) {
      const nested = /(\w+ToTerraform)\b/.exec(expr.replace(/cdktf\.\w+ToTerraform/g, ''))?.[1];
      out[name] = nested && functions.has(nested) ? structOf(nested) : null;
    }
    return out;
  };
  const structOf = (fn: string): BlockSchema => {
    const hit = cache.get(fn);
    if (hit) return hit;
    const schema: BlockSchema = {};
    cache.set(fn, schema);
    Object.assign(schema, block(returnedObject(functions.get(fn)!)));
    return schema;
  };
  const synth = /synthesizeAttributes\(\) \{\n([\s\S]*?)\n {4}\}/.exec(source)?.[1];
  if (!synth) throw new Error('no synthesizeAttributes');
  return { type, root: block(returnedObject(synth)) };
}

const modules = new Map<string, BlockSchema | undefined>();

/** The schema of a resource type (e.g. google_sql_user), or undefined when the provider has no such resource. */
export function resourceSchema(type: string): BlockSchema | undefined {
  if (modules.has(type)) return modules.get(type);
  const dir = type === 'provider' ? 'provider' : type.replace(/^google_/, '').replace(/_/g, '-');
  const file = join(providerDir(), 'lib', dir, 'index.js');
  let schema: BlockSchema | undefined;
  if (existsSync(file)) {
    const parsed = parseModule(readFileSync(file, 'utf8'));
    if (parsed.type === type || type === 'provider') schema = parsed.root;
  }
  modules.set(type, schema);
  return schema;
}

/** Terraform's own meta-arguments, valid in every resource. */
const META = new Set(['depends_on', 'count', 'for_each', 'provider', 'lifecycle']);

/** Problems of one resource body against the schema: unknown attributes or blocks, by path. */
export function checkResource(type: string, body: unknown): string[] {
  const schema = resourceSchema(type);
  if (!schema) return [`${type}: no such resource in ${PROVIDER_PACKAGE}`];
  return checkBlock(schema, body, type, true);
}

export function checkBlock(schema: BlockSchema, body: unknown, path: string, top = false): string[] {
  if (Array.isArray(body)) return body.flatMap((b, i) => checkBlock(schema, b, `${path}[${i}]`, top));
  if (body === null || typeof body !== 'object') return [`${path}: a block, not ${JSON.stringify(body)}`];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (top && META.has(key)) continue;
    if (!(key in schema)) {
      problems.push(`${path}.${key}: no such attribute or block`);
      continue;
    }
    const nested = schema[key];
    if (nested) problems.push(...checkBlock(nested, value, `${path}.${key}`));
  }
  return problems;
}
