/**
 * The local runtime's HTTP proxy: one listener that routes by `Host` to the healthy instances of a
 * deployment. It counts pending requests per route and per backend, and makes a release switch lossless:
 * `setRoute` sends new requests to the new backends at once, requests in flight on the old ones finish,
 * and `drain(id)` resolves when an old backend has nothing pending, so its process can be stopped.
 * Bodies stream both ways; nothing is logged on the hot path.
 */
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { countResponse, type ResponseCounts } from './counts.js';
import { forwardHeaders, hasBody, normalizeHost, responseHeaders, uncork } from './headers.js';
import type { Backend, Proxy, ProxyOptions } from './types.js';

export type { Backend, BackendStats, Proxy, ProxyOptions, ProxyStats, RouteStats } from './types.js';

interface BackendState {
  readonly id: string;
  port: number;
  pending: number;
  requests: number;
  errors: number;
  drainWaiters: (() => void)[];
}

interface Route extends ResponseCounts {
  key: string;
  hostnames: readonly string[];
  backends: BackendState[];
  next: number;
  waiting: number;
  inFlight: number;
  requests: number;
  /** Sum over every response of the time from forwarding the request to the response's head (ms). */
  latencyMsTotal: number;
  waiters: Set<() => void>;
}

const retryableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

export function createProxy(options: ProxyOptions): Promise<Proxy> {
  const host = options.host ?? '127.0.0.1';
  const pendingTimeoutMs = options.pendingTimeoutMs ?? 0;
  const byHost = new Map<string, Route>();
  const routes = new Map<string, Route>();
  const backends = new Map<string, BackendState>();
  let unknownHost = 0;
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 4096,
    maxFreeSockets: 1024,
    // Shorter than Node's default server keepAliveTimeout (5 s) so we rarely reuse a socket the backend closes.
    timeout: 4000,
    scheduling: 'lifo',
  });

  function backendState(b: Backend): BackendState {
    let state = backends.get(b.id);
    if (state === undefined) {
      state = { id: b.id, port: b.port, pending: 0, requests: 0, errors: 0, drainWaiters: [] };
      backends.set(b.id, state);
    }
    state.port = b.port;
    return state;
  }

  function isRouted(id: string): boolean {
    for (const route of routes.values()) if (route.backends.some((b) => b.id === id)) return true;
    return false;
  }

  function forgetIfIdle(state: BackendState): void {
    if (state.pending === 0) {
      for (const resolve of state.drainWaiters.splice(0)) resolve();
      if (!isRouted(state.id)) backends.delete(state.id);
    }
  }

  /**
   * Counts a request (or an upgraded connection) in flight on a backend: what draining waits for and the
   * pending-requests metric reads. The returned function ends it, once: true the first time, false after.
   */
  function track(route: Route, backend: BackendState): () => boolean {
    backend.pending++;
    backend.requests++;
    route.inFlight++;
    let done = false;
    return () => {
      if (done) return false;
      done = true;
      backend.pending--;
      route.inFlight--;
      if (backend.pending === 0 && (backend.drainWaiters.length > 0 || !route.backends.includes(backend))) {
        forgetIfIdle(backend);
      }
      return true;
    };
  }

  /** Least pending, ties broken round-robin. */
  function pick(route: Route, exclude?: BackendState): BackendState | undefined {
    const list = route.backends;
    const n = list.length;
    if (n === 0) return undefined;
    const start = route.next++ % n;
    let best: BackendState | undefined;
    for (let k = 0; k < n; k++) {
      const candidate = list[(start + k) % n] as BackendState;
      if (candidate === exclude && n > 1) continue;
      if (best === undefined || candidate.pending < best.pending) best = candidate;
    }
    return best;
  }

  function sendPlain(
    res: ServerResponse,
    status: number,
    text: string,
    extra?: Record<string, string>,
  ): void {
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...extra,
    });
    res.end(text);
  }

  /** Says only that the host is unknown: the hosts it serves are not for any caller to list. */
  function unknown(res: ServerResponse): void {
    unknownHost++;
    sendPlain(
      res,
      404,
      'No deployment answers to this host name: check the URL, or see `msp status` for the deployments and their hosts.\n',
    );
  }

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    backend: BackendState,
    hostname: string,
    retried: boolean,
  ): void {
    const release = track(route, backend);
    const forwardedAt = performance.now();
    const withBody = hasBody(req);
    const upstream = httpRequest({
      agent,
      host: '127.0.0.1',
      port: backend.port,
      method: req.method,
      path: req.url,
      headers: forwardHeaders(req, req.headers.host ?? hostname),
    });
    upstream.on('response', (up) => {
      const status = up.statusCode ?? 502;
      countResponse(route, status);
      route.latencyMsTotal += performance.now() - forwardedAt;
      res.writeHead(status, up.statusMessage, responseHeaders(up));
      // Hold the head, the first chunks and the end together for one turn: a small response then leaves
      // in one write instead of three (head+body, then the chunked terminator).
      res.cork();
      setImmediate(uncork, res);
      up.pipe(res);
      up.on('error', () => res.destroy());
    });
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (!release()) return;
      backend.errors++;
      // Nothing reached the client yet and the request can be sent again: one retry elsewhere.
      if (!res.headersSent && !withBody && !retried && retryableCodes.has(error.code ?? '')) {
        const other = pick(route, backend);
        if (other !== undefined) {
          forward(req, res, route, other, hostname, true);
          return;
        }
      }
      if (!res.headersSent) {
        countResponse(route, 502);
        sendPlain(
          res,
          502,
          // The caller learns nothing of the instances behind the host (the log has which one failed).
          'Bad gateway: the service did not answer. Try again shortly.\n',
        );
      } else {
        res.destroy();
      }
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
      release();
    });
    if (withBody) req.pipe(upstream);
    else upstream.end();
  }

  function waitForBackend(req: IncomingMessage, res: ServerResponse, route: Route, hostname: string): void {
    route.waiting++;
    let settled = false;
    const settle = (): void => {
      settled = true;
      route.waiting--;
      route.waiters.delete(onBackend);
      clearTimeout(timer);
    };
    const onBackend = (): void => {
      if (settled) return;
      const backend = pick(route);
      if (backend === undefined) return;
      settle();
      forward(req, res, route, backend, hostname, false);
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settle();
      noBackend(res, route);
    }, pendingTimeoutMs);
    route.waiters.add(onBackend);
    res.on('close', () => {
      if (!settled) settle();
    });
  }

  function noBackend(res: ServerResponse, route: Route): void {
    countResponse(route, 503);
    sendPlain(
      res,
      503,
      `No healthy instance of ${route.hostnames[0] ?? 'this deployment'} right now: retry shortly, or see \`msp status\`.\n`,
      { 'retry-after': '1' },
    );
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const hostname = normalizeHost(req.headers.host);
    const route = byHost.get(hostname);
    if (route === undefined) {
      unknown(res);
      return;
    }
    route.requests++;
    const backend = pick(route);
    if (backend !== undefined) forward(req, res, route, backend, hostname, false);
    else if (pendingTimeoutMs > 0) waitForBackend(req, res, route, hostname);
    else noBackend(res, route);
  }

  /** WebSocket and other Upgrade requests: a raw byte pipe to one backend. */
  function upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const route = byHost.get(normalizeHost(req.headers.host));
    const backend = route === undefined ? undefined : pick(route);
    if (route === undefined || backend === undefined) {
      socket.end(
        `HTTP/1.1 ${route === undefined ? '404 Not Found' : '503 Service Unavailable'}\r\nconnection: close\r\n\r\n`,
      );
      return;
    }
    const release = track(route, backend);
    const upstream = connect(backend.port, '127.0.0.1', () => {
      let head1 = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
      const raw = req.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) head1 += `${raw[i]}: ${raw[i + 1]}\r\n`;
      head1 += `x-forwarded-for: ${req.socket.remoteAddress ?? ''}\r\n\r\n`;
      upstream.write(head1);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    const close = (): void => {
      upstream.destroy();
      socket.destroy();
      release();
    };
    upstream.on('error', close);
    socket.on('error', close);
    upstream.on('close', close);
    socket.on('close', close);
  }

  const server: Server = createServer({ keepAlive: true, keepAliveTimeout: 65_000 }, handle);
  server.on('upgrade', upgrade);
  server.headersTimeout = 70_000;

  function setRoute(hostnames: readonly string[], list: readonly Backend[]): void {
    const names = [...new Set(hostnames.map((h) => normalizeHost(h)))].sort();
    const key = names.join(' ');
    let route = routes.get(key);
    const previous = route?.backends ?? [];
    if (route === undefined) {
      // A hostname moves to this route from any other route holding it.
      for (const name of names) {
        const other = byHost.get(name);
        if (other !== undefined) removeRoute(other.hostnames.filter((h) => names.includes(h)));
      }
      route = {
        key,
        hostnames: names,
        backends: [],
        next: 0,
        waiting: 0,
        inFlight: 0,
        requests: 0,
        responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
        codes: {},
        latencyMsTotal: 0,
        waiters: new Set(),
      };
      routes.set(key, route);
    }
    route.backends = list.map(backendState);
    for (const name of names) byHost.set(name, route);
    for (const old of previous) if (!route.backends.includes(old)) forgetIfIdle(old);
    if (route.backends.length > 0) for (const wake of [...route.waiters]) wake();
  }

  function removeRoute(hostnames: readonly string[]): void {
    const names = new Set(hostnames.map((h) => normalizeHost(h)));
    for (const name of names) {
      const route = byHost.get(name);
      if (route === undefined) continue;
      byHost.delete(name);
      const remaining = route.hostnames.filter((h) => !names.has(h));
      routes.delete(route.key);
      if (remaining.length > 0) {
        // The route keeps its other names (and its counters) under a new key.
        route.key = remaining.join(' ');
        route.hostnames = remaining;
        routes.set(route.key, route);
      } else {
        const old = route.backends;
        route.backends = [];
        for (const b of old) forgetIfIdle(b);
      }
    }
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      resolve({
        port,
        setRoute,
        removeRoute,
        drain(backendId) {
          const state = backends.get(backendId);
          if (state === undefined || state.pending === 0) return Promise.resolve();
          return new Promise((done) => state.drainWaiters.push(done));
        },
        hosts: () => [...byHost.keys()].sort(),
        stats() {
          return {
            unknownHost,
            routes: [...routes.values()].map((route) => ({
              hostnames: route.hostnames,
              pending: route.inFlight + route.waiting,
              waiting: route.waiting,
              requests: route.requests,
              responses: { ...route.responses },
              codes: { ...route.codes },
              latencyMsTotal: route.latencyMsTotal,
              backends: route.backends.map((b) => ({
                id: b.id,
                port: b.port,
                pending: b.pending,
                requests: b.requests,
                errors: b.errors,
              })),
            })),
          };
        },
        close() {
          return new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
            agent.destroy();
          });
        },
      });
    });
  });
}
