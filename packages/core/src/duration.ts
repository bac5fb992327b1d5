import { InputError } from './errors.js';

const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/**
 * Parses a duration such as `10m`, `90s`, `1h30m`, `2d` or `250ms` into milliseconds.
 * Used by `--since`, `--session-timeout` and spec fields; a bare number is refused because its unit
 * would be a guess.
 */
export function parseDuration(text: string): number {
  const input = text.trim();
  if (input === '') throw new InputError('Empty duration: give a number with a unit, e.g. "10m" or "30s".');
  part.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = part.exec(input); match !== null; match = part.exec(input)) {
    total += Number(match[1]) * unitMs[match[2] as keyof typeof unitMs];
    consumed = part.lastIndex;
  }
  if (consumed !== input.length) {
    throw new InputError(
      `Invalid duration "${text}": use a number followed by a unit (ms, s, m, h, d), e.g. "10m", "1h30m" or "45s".`,
    );
  }
  return Math.round(total);
}

/** Formats milliseconds compactly (`1h30m`, `45s`, `250ms`), the inverse of parseDuration for whole units. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 1000);
  const out: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
  ] as const) {
    if (rest >= size) {
      out.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || out.length === 0) out.push(`${rest}s`);
  return out.join('');
}
