/**
 * The CLI's client of the control plane API, typed by the server's own route definitions (`hono/client`
 * over a type-only import of `ControlPlaneApi`). It finds the running control plane by itself when run
 * inside a platform repo (`.msp/control-plane.json` and the owner-only `.msp/admin-token`), or from MSP_URL
 * and MSP_TOKEN. An error answer becomes the server's MspError again (see api-error.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hc, type ClientResponse } from 'hono/client';
import type { ControlPlaneApi } from '@msp/control-plane';
import { errorFromResponse } from './api-error.js';
import { CliError } from './cli-support.js';
import { controlPlaneDataDir, searchedPlaces } from './repo-default.js';

export type Api = ReturnType<typeof hc<ControlPlaneApi>>;

export interface ControlPlaneClient {
  url: string;
  /** The typed API under /api/v1: `client.api.backups.$post({ json })`; pass it to `call`. */
  api: Api;
  /** A request outside the typed routes' JSON bodies (a bundle upload): answers or throws like `call`. */
  send(method: string, path: string, init: RequestInit): Promise<Response>;
}

type SuccessStatus = 200 | 201 | 202 | 204;
/** The JSON body a call answers with when it succeeds. */
export type Ok<R> =
  R extends ClientResponse<infer T, infer S, string> ? (S extends SuccessStatus ? T : never) : never;

/** Awaits a typed call: its JSON body when it succeeded, the server's error (rebuilt) when not. */
export async function call<R extends ClientResponse<unknown, number, string>>(
  request: Promise<R>,
): Promise<Ok<R>> {
  const res = await checked(request);
  return (await res.json()) as Ok<R>;
}

/** Awaits a call; throws the server's error unless it succeeded; returns the raw response (a stream). */
export async function checked<R extends Response | ClientResponse<unknown, number, string>>(
  request: Promise<R>,
): Promise<R> {
  const res = await request;
  if (!res.ok) {
    const body: unknown = await res.json().catch(() => undefined);
    throw errorFromResponse(res.status, res.statusText, body);
  }
  return res;
}

/** `/` in a deployment key travels as `%2F`: one key, one path segment. */
export const segment = (value: string) => encodeURIComponent(value);

export function connect(options: { repo?: string } = {}): ControlPlaneClient {
  let url = process.env.MSP_URL;
  let token = process.env.MSP_TOKEN;
  if (!url || !token) {
    const dataDir = controlPlaneDataDir(options.repo);
    if (!dataDir) {
      throw new CliError(
        `No running control plane found for ${searchedPlaces(options.repo)}: start one with \`msp up\` in the platform repo (or set MSP_URL and MSP_TOKEN).`,
      );
    }
    try {
      url ??= (JSON.parse(readFileSync(join(dataDir, 'control-plane.json'), 'utf8')) as { url: string }).url;
      token ??= readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    } catch (error) {
      throw new CliError(
        `Cannot read the control plane address or token in ${dataDir}: ${(error as Error).message}. Run as the user who started \`msp up\`, or set MSP_URL and MSP_TOKEN.`,
      );
    }
  }
  const base = url.replace(/\/$/, '');
  const authorization = `Bearer ${token}`;
  const reach: typeof fetch = async (input, init) => {
    try {
      return await fetch(input, init);
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new CliError(
        `The control plane at ${base} does not answer (${(error as Error).message}). Is \`msp up\` still running?`,
      );
    }
  };
  return {
    url: base,
    api: hc<ControlPlaneApi>(`${base}/api/v1`, { headers: { authorization }, fetch: reach }),
    send: (method, path, init) =>
      checked(
        reach(`${base}/api/v1${path}`, {
          ...init,
          method,
          headers: { ...(init.headers as Record<string, string>), authorization },
        }),
      ),
  };
}
