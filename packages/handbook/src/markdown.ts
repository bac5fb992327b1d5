/**
 * Small Markdown building blocks that print the way prettier formats Markdown, so generated pages are
 * stable under the repository's formatter: tables with every column padded to its widest cell.
 */

/** Display width of a string as prettier measures it: wide (CJK, emoji) characters count twice. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20 || (code >= 0x7f && code < 0xa0)) continue;
    if (code >= 0x300 && code <= 0x36f) continue; // combining marks
    width += isWide(code) ? 2 : 1;
  }
  return width;
}

function isWide(code: number): boolean {
  return (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x2705 && code <= 0x2705) ||
    (code >= 0x1f300 && code <= 0x1faff)
  );
}

/** Escapes text for a table cell: pipes would end the cell, newlines the row. */
export function cell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

/** A table with aligned columns, header in the first row. Cells are Markdown already (see `cell`). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const columns = header.length;
  const widths = header.map((h) => Math.max(3, displayWidth(h)));
  for (const row of rows) {
    if (row.length !== columns) throw new Error(`table row has ${row.length} cells, expected ${columns}`);
    row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 3, displayWidth(c))));
  }
  const line = (cells: readonly string[]): string =>
    '| ' + cells.map((c, i) => c + ' '.repeat((widths[i] ?? 0) - displayWidth(c))).join(' | ') + ' |';
  return [line(header), '| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |', ...rows.map(line)].join(
    '\n',
  );
}

/** A two-column PROPERTY | DETAILS table, as the handbook uses for every property list. */
export function propertyTable(rows: readonly (readonly [string, string])[]): string {
  return table(['PROPERTY', 'DETAILS'], rows);
}

/** Inline code that survives backticks inside the text. */
export function code(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A fenced code block whose fence is longer than any backtick run inside. */
export function codeBlock(language: string, body: string): string {
  const longest = Math.max(0, ...[...body.matchAll(/`{3,}/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${language}\n${body.replace(/\n+$/, '')}\n${fence}`;
}

/** Escapes characters that would turn link text into something else. */
export function linkText(text: string): string {
  return text.replace(/([\\[\]])/g, '\\$1');
}

export function link(text: string, url: string): string {
  const target = /[\s()<>]/.test(url) ? `<${url.replace(/>/g, '%3E')}>` : url;
  return `[${linkText(text)}](${target})`;
}

/** The anchor GitHub-style renderers give a heading: lower case, punctuation dropped, spaces to dashes. */
export function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Joins blocks with one blank line between them and a single final newline. */
export function document(blocks: readonly (string | undefined | false)[]): string {
  return (
    blocks
      .filter((b): b is string => typeof b === 'string' && b.length > 0)
      .map((b) => b.replace(/\n+$/, ''))
      .join('\n\n') + '\n'
  );
}
