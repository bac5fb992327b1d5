/**
 * YAML files with positions: parse with a LineCounter, and find the line and column of any field path,
 * so every diagnostic points at the offending node.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node } from 'yaml';
import type { Diagnostic } from './diagnostic.js';
import { formatPath } from './diagnostic.js';

export type PathSegment = string | number;

export interface YamlSource {
  /** Repo-relative file name used in diagnostics. */
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** The plain JavaScript value of the document (null for an empty file). */
  data: unknown;
}

export function parseYaml(
  file: string,
  text: string,
): { source: YamlSource; diagnostics: [] } | { source?: undefined; diagnostics: Diagnostic[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      diagnostics: doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
        const message = e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? e.message;
        return {
          file,
          line: pos.line,
          column: pos.col,
          path: '',
          message: `malformed YAML: ${message}`,
        };
      }),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { diagnostics: [{ file, line: 1, column: 1, path: '', message: `malformed YAML: ${message}` }] };
  }
  return { source: { file, doc, lines, data }, diagnostics: [] };
}

function keyOf(k: unknown): unknown {
  return isScalar(k) ? k.value : k;
}

/**
 * Line and column of a field: the value's node ('value'), the key ('key', for unknown keys), or, when the
 * path does not exist (a missing required key), the nearest enclosing mapping that does.
 */
export function positionOf(
  source: YamlSource,
  path: readonly PathSegment[],
  target: 'key' | 'value' = 'value',
): { line: number; column: number } {
  const at = (offset: number) => {
    const p = source.lines.linePos(offset);
    return { line: p.line, column: p.col };
  };
  let node: unknown = source.doc.contents;
  if (!node) return { line: 1, column: 1 };
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => String(keyOf(p.key)) === String(seg));
      if (!pair) break;
      const keyNode = pair.key as Node | null;
      if (last && target === 'key' && keyNode?.range) return at(keyNode.range[0]);
      const value = pair.value as Node | null;
      if (
        !value ||
        !value.range ||
        (isScalar(value) && value.value === null && value.range[0] === value.range[1])
      ) {
        return keyNode?.range ? at(keyNode.range[0]) : at((node as Node).range?.[0] ?? 0);
      }
      node = value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item || !item.range) break;
      node = item;
    } else {
      break;
    }
  }
  return at((node as Node).range?.[0] ?? 0);
}

/** A diagnostic for a field of this file. */
export function diagnosticAt(
  source: YamlSource,
  path: readonly PathSegment[],
  message: string,
  target: 'key' | 'value' = 'value',
): Diagnostic {
  return { file: source.file, ...positionOf(source, path, target), path: formatPath(path), message };
}
