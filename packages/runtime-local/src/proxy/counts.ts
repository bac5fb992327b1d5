/** The proxy's response counters of a route: by status class, and by exact code. */
const statusClass = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export interface ResponseCounts {
  responses: Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>;
  /** By exact status code (a response-code ratio may name one, or exclude some). */
  codes: Record<string, number>;
}

/** Counts one response of `status`: in its class and under its exact code. */
export function countResponse(counts: ResponseCounts, status: number): void {
  counts.responses[statusClass[Math.min(5, Math.floor(status / 100))] ?? '5xx']++;
  counts.codes[status] = (counts.codes[status] ?? 0) + 1;
}
