/** A problem in the platform repo, with the exact place it was found. */
export interface Diagnostic {
  /** Path relative to the repo root, e.g. "services/releaseregistry/service.yaml". */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Field path like "environments[1].deploy.type"; "" for the whole document. */
  path: string;
  message: string;
}

/** "services/x/service.yaml:3:5: environments[0].id: message" (the path part is left out when empty). */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.path ? `${d.path}: ` : ''}${d.message}`;
}

/** Sorted by file, line, column, then message: a stable order for people and tests. */
export function sortDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line ||
      a.column - b.column ||
      (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
  );
}

/** "environments[1].deploy.type" from ["environments", 1, "deploy", "type"]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      out += /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(s) ? (out ? `.${s}` : s) : `[${JSON.stringify(s)}]`;
    }
  }
  return out;
}
