/**
 * Runs a zod schema over a parsed YAML file and turns every issue into a Diagnostic at the offending node,
 * with messages written for people ("did you mean `healthProbes`?", "`category` is required").
 */
import type { z } from 'zod';
import type { Diagnostic } from './diagnostic.js';
import { closest } from './did-you-mean.js';
import type { PathSegment, YamlSource } from './yaml-source.js';
import { diagnosticAt } from './yaml-source.js';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  entries?: Record<string, string | number>;
}
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Peels wrappers (optional, default, pipe, ...) to the schema that describes the value's shape. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let i = 0; i < 20; i++) {
    const def = defOf(s);
    const next = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
    if (!next) return s;
    s = next;
  }
  return s;
}

/** The schema describing the value at `path`, if the path leads through objects, arrays and records. */
export function schemaAt(root: z.ZodType, path: readonly PathSegment[]): z.ZodType | undefined {
  let s: z.ZodType | undefined = unwrap(root);
  for (const seg of path) {
    if (!s) return undefined;
    const def = defOf(s);
    if (def.type === 'object' && def.shape) s = def.shape[String(seg)];
    else if (def.type === 'array' && def.element) s = def.element;
    else if (def.type === 'record' && def.valueType) s = def.valueType;
    else return undefined;
    s = s && unwrap(s);
  }
  return s;
}

export function allowedKeys(root: z.ZodType, path: readonly PathSegment[]): string[] {
  const s = schemaAt(root, path);
  const def = s && defOf(s);
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string \`${v}\``;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} \`${v}\``;
  return typeof v;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  record: 'a mapping',
};

function enumHint(schema: z.ZodType | undefined): string {
  const def = schema && defOf(schema);
  if (def?.type === 'enum' && def.entries) return ` (one of ${Object.values(def.entries).join(', ')})`;
  return '';
}

type Issue = z.core.$ZodIssue;

/** zod's own wording, which we replace; a message the schema sets itself is kept. */
const ZOD_DEFAULT =
  /^(Too small|Too big|Invalid input|Invalid option|Invalid string|Invalid key|Invalid element)/;

function messageFor(issue: Issue, root: z.ZodType): string {
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_value') && issue.input === undefined) {
    const key = issue.path[issue.path.length - 1];
    return `required field \`${String(key)}\` is missing${enumHint(schemaAt(root, issue.path as PathSegment[]))}`;
  }
  if (issue.path.length === 0 && issue.code === 'invalid_type' && issue.input == null)
    return 'the file is empty; it must hold a mapping (see docs/spec-reference.md)';
  if (!ZOD_DEFAULT.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_type': {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      const quoteHint =
        issue.expected === 'string' && (typeof issue.input === 'number' || typeof issue.input === 'boolean')
          ? '; quote it'
          : '';
      return `expected ${expected}, got ${describeValue(issue.input)}${quoteHint}`;
    }
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => `\`${String(v)}\``).join(', ')}, got ${describeValue(issue.input)}`;
    case 'too_small': {
      const min = String(issue.minimum);
      if (issue.origin === 'array') return `needs at least ${min} item${min === '1' ? '' : 's'}`;
      if (issue.origin === 'string')
        return min === '1' ? 'must not be empty' : `needs at least ${min} characters`;
      return `must be ${issue.inclusive === false ? 'greater than' : 'at least'} ${min}, got ${String(issue.input)}`;
    }
    case 'too_big': {
      const max = String(issue.maximum);
      if (issue.origin === 'array') return `has more than ${max} items`;
      if (issue.origin === 'string') return `must be at most ${max} characters`;
      return `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${max}, got ${String(issue.input)}`;
    }
    case 'invalid_key':
      return `key \`${String(issue.path[issue.path.length - 1])}\` ${issue.issues.map((i) => i.message).join('; ')}`;
    default:
      return issue.message;
  }
}

/** Parses `source.data` with `schema`; every issue becomes a positioned Diagnostic. */
export function validateWith<S extends z.ZodType>(
  source: YamlSource,
  schema: S,
): { value?: z.output<S>; diagnostics: Diagnostic[] } {
  const result = schema.safeParse(source.data, { reportInput: true });
  if (result.success) return { value: result.data, diagnostics: [] };
  const diagnostics: Diagnostic[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path as PathSegment[];
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(schema, path);
      for (const key of issue.keys) {
        const suggestion = closest(key, allowed);
        const hint = suggestion
          ? `; did you mean \`${suggestion}\`?`
          : allowed.length > 0
            ? `; allowed keys: ${allowed.join(', ')}`
            : '';
        diagnostics.push(diagnosticAt(source, [...path, key], `unknown key \`${key}\`${hint}`, 'key'));
      }
      continue;
    }
    if (issue.code === 'invalid_key') {
      // A record key that breaks its rule: point at the key itself.
      diagnostics.push(diagnosticAt(source, path, messageFor(issue, schema), 'key'));
      continue;
    }
    diagnostics.push(diagnosticAt(source, path, messageFor(issue, schema)));
  }
  return { diagnostics };
}
