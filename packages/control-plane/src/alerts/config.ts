/**
 * msp.yaml's `alerting` section as the alerts module uses it: time scale, sampling interval, channels. Read
 * from the platform repo and cached until msp.yaml changes; an msp.yaml that does not validate keeps the
 * last good section (the reconciler reports what is wrong with it).
 */
import { stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { alertingSchema, type AlertingConfig } from '@msp/spec';

/** The section, plus where the handbook is (msp.yaml `links.platformDocs`). */
export type AlertingSettings = AlertingConfig & { handbookUrl?: string };

export interface AlertingSource {
  current(): Promise<AlertingSettings>;
}

export const DEFAULT_ALERTING: AlertingConfig = alertingSchema.parse({});

export function alertingSource(repoDir: string, overrides: Partial<AlertingConfig> = {}): AlertingSource {
  let cached: { mtimeMs: number; config: AlertingSettings } | undefined;
  const file = join(repoDir, 'msp.yaml');
  return {
    async current() {
      const s = await stat(file).catch(() => undefined);
      if (s && cached?.mtimeMs !== s.mtimeMs) {
        try {
          const data = parse(await readFile(file, 'utf8')) as {
            alerting?: unknown;
            links?: { platformDocs?: unknown };
          } | null;
          const parsed = alertingSchema.safeParse(data?.alerting ?? {});
          const docs = data?.links?.platformDocs;
          if (parsed.success) {
            cached = {
              mtimeMs: s.mtimeMs,
              config: {
                ...parsed.data,
                ...(typeof docs === 'string' ? { handbookUrl: docs.replace(/\/$/, '') } : {}),
              },
            };
          }
        } catch {
          // Not YAML right now (being edited): keep the last good section.
        }
      }
      return { ...(cached?.config ?? DEFAULT_ALERTING), ...overrides };
    },
  };
}
