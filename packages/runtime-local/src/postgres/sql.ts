/** Quoting for the few statements that cannot take parameters (DDL: roles, databases, grants). */

/** A double-quoted SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A single-quoted SQL string literal (standard_conforming_strings is on). */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
