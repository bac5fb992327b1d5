/** Edit distance (insertions, deletions, substitutions), two rows at a time. */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The closest candidate, if it is close enough to be a likely typo (case differences count little). */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = Math.min(levenshtein(word, c), levenshtein(word.toLowerCase(), c.toLowerCase()) + 0.5);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  if (bestDistance <= limit) return best;
  // A truncated or extended name ("postgres" for "postgreSQL") is a likely slip too.
  const lower = word.toLowerCase();
  return word.length >= 4
    ? candidates.find((c) => c.toLowerCase().startsWith(lower) || lower.startsWith(c.toLowerCase()))
    : undefined;
}
