import { z } from 'zod';
import { ErrorCode, MspError } from '@msp/core';
import { releaseSchema } from './release.js';
import type { NewRelease, Release } from './release.js';

/**
 * A small typed client for the Release Registry HTTP API, used by the CLI and the control plane.
 * Every non-2xx answer becomes a thrown `ReleaseRegistryError` with the HTTP status, the server's error
 * code and message; its `code` is MSP's error vocabulary, so `httpStatusOf` and `exitCodeOf` work on it.
 */
export interface ReleaseRegistryClientOptions {
  /** e.g. `http://127.0.0.1:8080` or `https://releaseregistry.example.com/registry` (no trailing `/v1`). */
  readonly baseUrl: string;
  /** The write token; needed for create and promote only. */
  readonly token?: string;
  readonly fetch?: typeof fetch;
}

export interface ReleaseRegistryClient {
  /** Every product's releases, or one product's (newest first) when `product` is given. */
  list(product?: string): Promise<Release[]>;
  get(product: string, version: string): Promise<Release>;
  /** The newest public release; throws with status 404 when none is public. */
  latest(product: string): Promise<Release>;
  create(release: NewRelease): Promise<Release>;
  promote(product: string, version: string): Promise<Release>;
  /** e.g. `v5.3.0` when 5.3 has no release yet, else the highest patch + 1. */
  nextVersion(product: string, major: number, minor: number): Promise<string>;
}

const codeByStatus: Record<number, ErrorCode> = {
  400: ErrorCode.Input,
  401: ErrorCode.Unauthenticated,
  403: ErrorCode.NotAllowed,
  404: ErrorCode.NotFound,
  409: ErrorCode.Conflict,
  412: ErrorCode.PreconditionFailed,
  413: ErrorCode.Input,
  422: ErrorCode.Input,
};

export class ReleaseRegistryError extends MspError {
  /** The HTTP status; undefined when no answer came back (network failure). */
  readonly status: number | undefined;
  constructor(status: number | undefined, message: string, options: { cause?: unknown } = {}) {
    const code =
      status === undefined || status === 502 || status === 503 || status === 504
        ? ErrorCode.Unavailable
        : (codeByStatus[status] ?? (status >= 400 && status < 500 ? ErrorCode.Input : ErrorCode.Internal));
    super(code, message, code === ErrorCode.Unavailable, {
      cause: options.cause,
      details: status === undefined ? {} : { status },
    });
    this.status = status;
  }
}

const errorResponseSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

export function createReleaseRegistryClient(options: ReleaseRegistryClientOptions): ReleaseRegistryClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const seg = encodeURIComponent;

  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (method === 'POST' && options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ReleaseRegistryError(
        undefined,
        `Release Registry at ${base} did not answer ${method} ${path}; check the address and that it is running`,
        { cause: error },
      );
    }
    if (response.ok) return response;
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const known = errorResponseSchema.safeParse(parsed);
    const message = known.success
      ? known.data.error.message
      : `Release Registry answered ${method} ${path} with HTTP ${response.status}: ${text.slice(0, 200)}`;
    throw new ReleaseRegistryError(response.status, message);
  }

  async function json<T extends z.ZodType>(schema: T, response: Response): Promise<z.output<T>> {
    const result = schema.safeParse(await response.json());
    if (!result.success) {
      throw new ReleaseRegistryError(
        response.status,
        `Release Registry sent an answer this client does not understand (${z.prettifyError(result.error)}); is ${base} a Release Registry?`,
      );
    }
    return result.data;
  }

  return {
    async list(product) {
      const path = product === undefined ? '/v1/releases' : `/v1/releases/${seg(product)}`;
      return json(z.array(releaseSchema), await call('GET', path));
    },
    async get(product, version) {
      return json(releaseSchema, await call('GET', `/v1/releases/${seg(product)}/${seg(version)}`));
    },
    async latest(product) {
      return json(releaseSchema, await call('GET', `/v1/releases/${seg(product)}/latest`));
    },
    async create(release) {
      return json(releaseSchema, await call('POST', '/v1/releases', release));
    },
    async promote(product, version) {
      return json(releaseSchema, await call('POST', `/v1/releases/${seg(product)}/${seg(version)}/promote`));
    },
    async nextVersion(product, major, minor) {
      const response = await call('POST', `/v1/releases/${seg(product)}/next/${major}.${minor}`);
      return (await response.text()).trim();
    },
  };
}
