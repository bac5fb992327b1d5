/**
 * The CLI's client of the control plane API. It finds the running control plane by itself when run inside
 * a platform repo (`.msp/control-plane.json` and the owner-only `.msp/admin-token`), or from MSP_URL and
 * MSP_TOKEN.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from './cli-support.js';
import { controlPlaneDataDir, searchedPlaces } from './repo-default.js';

export interface ControlPlaneClient {
  url: string;
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
  stream(path: string, signal?: AbortSignal): Promise<Response>;
}

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
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

  async function request(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw new CliError(
        `The control plane at ${base} does not answer (${(error as Error).message}). Is \`msp up\` still running?`,
      );
    }
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`;
      let code = '';
      try {
        const parsed = (await res.json()) as { error?: { message?: string; code?: string } };
        message = parsed.error?.message ?? message;
        code = parsed.error?.code ?? '';
      } catch {
        // not JSON: keep the status line
      }
      throw new CliError(message, res.status >= 400 && res.status < 500 && code !== 'conflict' ? 2 : 1);
    }
    return res;
  }
  return {
    url: base,
    async get<T>(path: string) {
      return (await (await request('GET', `/api/v1${path}`)).json()) as T;
    },
    async post<T>(path: string, body?: unknown) {
      return (await (await request('POST', `/api/v1${path}`, body ?? {})).json()) as T;
    },
    stream: (path, signal) => request('GET', `/api/v1${path}`, undefined, signal),
  };
}
