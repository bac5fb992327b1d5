/**
 * Shared building blocks of the three schemas: identifiers, hostnames, quantities (memory, durations)
 * and the parsers that turn them into numbers.
 */
import { z } from 'zod';

/** Service ids: lowercase letters, digits and dashes, at most 20 characters. */
export const SERVICE_ID_PATTERN = /^[a-z0-9-]+$/;
export const SERVICE_ID_MAX = 20;
/** Environment ids, volume names, customer slugs, instance ids: a lowercase letter first. */
export const SLUG_PATTERN = /^[a-z][a-z0-9-]*$/;
export const INSTANCE_ID_MAX = 30;
export const PROJECT_ID_MAX = 29; // "< 30 characters"
export const HOSTNAME_PATTERN =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const MEMORY_PATTERN = /^([1-9][0-9]*)(Mi|Gi)$/;
export const DURATION_PATTERN = /^([1-9][0-9]*)(s|m|h|d)$/;
export const VERSION_PATTERN = /^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$/;
export const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Why a service id is refused, or undefined when it is fine. Shared by the schema and `msp init`. */
export function serviceIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'a service id must not be empty';
  if (!SERVICE_ID_PATTERN.test(id))
    return `service id \`${id}\` must use only lowercase letters, digits and dashes (^[a-z0-9-]+$)`;
  if (id.length > SERVICE_ID_MAX)
    return `service id \`${id}\` is ${id.length} characters long; at most ${SERVICE_ID_MAX} are allowed`;
  return undefined;
}

/** "512Mi" → 512, "2Gi" → 2048 (mebibytes). Undefined when the text is not a quantity. */
export function parseMemory(text: string): number | undefined {
  const m = MEMORY_PATTERN.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 'Gi' ? n * 1024 : n;
}

const DURATION_UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** "72h" → milliseconds. Units: s, m, h, d. Undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_PATTERN.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * DURATION_UNIT_MS[m[2] as keyof typeof DURATION_UNIT_MS];
}

/** Five space-separated cron fields, each made of digits, `*`, `/`, `-`, `,`. */
export const CRON_PATTERN = /^([0-9*/,-]+\s+){4}[0-9*/,-]+$/;

export const slug = (what: string) =>
  z.string().regex(SLUG_PATTERN, `${what} must start with a lowercase letter and use only a-z, 0-9 and -`);
export const hostname = () =>
  z.string().regex(HOSTNAME_PATTERN, 'must be a lowercase host name such as `app.example.com`');
export const duration = () =>
  z.string().regex(DURATION_PATTERN, 'must be a duration such as `30m`, `8h` or `7d`');
export const url = () =>
  z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL such as `https://example.com/path`');
export const category = () => z.enum(['test', 'internal', 'external']);
export type Category = 'test' | 'internal' | 'external';

/** "Production" means category internal or external: pages on CRITICAL alerts, restricted access. */
export function isProduction(category: Category): boolean {
  return category === 'internal' || category === 'external';
}
