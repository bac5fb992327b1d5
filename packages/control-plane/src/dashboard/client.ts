/**
 * The dashboard's way to the control plane: the same /api/v1 routes as the CLI, called in process with the
 * signed-in user's own token, so every page and action passes the API's authentication, validation and
 * authorization. Nothing here reads the state store directly.
 */
export interface ApiResult<T> {
  status: number;
  body: T;
}

export interface UserApi {
  get<T>(path: string): Promise<ApiResult<T>>;
  post<T>(path: string, body?: unknown): Promise<ApiResult<T>>;
  delete<T>(path: string): Promise<ApiResult<T>>;
  /** Like get, but a non-2xx answer throws ApiFailure with the API's own message. */
  read<T>(path: string): Promise<T>;
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The message of an API error body (`{ error: { message } }`), or the status. */
export function messageOf(result: ApiResult<unknown>): string {
  const error = (result.body as { error?: { message?: string } } | null)?.error;
  return error?.message ?? `HTTP ${result.status}`;
}

export function userApi(api: (request: Request) => Promise<Response>, token: string): UserApi {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<ApiResult<T>> => {
    const res = await api(
      new Request(`http://control-plane/api/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    );
    const json = (await res.json().catch(() => null)) as T;
    return { status: res.status, body: json };
  };
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body ?? {}),
    delete: (path) => call('DELETE', path),
    async read<T>(path: string) {
      const r = await call<T>('GET', path);
      if (r.status >= 300) throw new ApiFailure(r.status, messageOf(r));
      return r.body;
    },
  };
}

export const q = encodeURIComponent;
