/** The proxy's contract: routes of hostnames to backends, and what it counts. */

export interface Backend {
  readonly id: string;
  readonly port: number;
}

export interface ProxyOptions {
  readonly port: number;
  readonly host?: string;
  /**
   * How long a request for a known host with no healthy backend waits for one (a restart in progress)
   * before it is answered 503. These are the "pending requests" of the alert. Default 0.
   */
  readonly pendingTimeoutMs?: number;
}

export interface BackendStats {
  readonly id: string;
  readonly port: number;
  readonly pending: number;
  readonly requests: number;
  readonly errors: number;
}

export interface RouteStats {
  readonly hostnames: readonly string[];
  /** In flight on a backend plus waiting for one. */
  readonly pending: number;
  /** Waiting for a healthy backend. */
  readonly waiting: number;
  readonly requests: number;
  readonly responses: Readonly<Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>>;
  /** The same responses by exact status code (`"429": 3`), the proxy's own 502 and 503 included. */
  readonly codes: Readonly<Record<string, number>>;
  /** Sum over every response of the time from forwarding to the backend to its response head (ms). */
  readonly latencyMsTotal: number;
  readonly backends: readonly BackendStats[];
}

export interface ProxyStats {
  readonly routes: readonly RouteStats[];
  readonly unknownHost: number;
}

export interface Proxy {
  /** The port actually listened on (useful with port 0). */
  readonly port: number;
  setRoute(hostnames: readonly string[], backends: readonly Backend[]): void;
  removeRoute(hostnames: readonly string[]): void;
  /** Resolves when the backend has no request pending (at once if it has none). */
  drain(backendId: string): Promise<void>;
  stats(): ProxyStats;
  hosts(): string[];
  close(): Promise<void>;
}
