/** HTTP/1.1 header handling for the proxy: the Host it routes by, and what it forwards each way. */
import type { IncomingMessage, ServerResponse } from 'node:http';

// Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded.
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
]);

export function normalizeHost(host: string | undefined): string {
  if (host === undefined) return '';
  let h = host;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    h = end < 0 ? h : h.slice(0, end + 1);
  } else {
    const colon = h.indexOf(':');
    if (colon >= 0) h = h.slice(0, colon);
  }
  h = h.toLowerCase();
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

export function uncork(res: ServerResponse): void {
  if (res.writableCorked > 0) res.uncork();
}

export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Request headers for the backend as a flat raw list (as `rawHeaders`: Node skips re-validating each one):
 * hop-by-hop removed, X-Forwarded-* added.
 */
export function forwardHeaders(req: IncomingMessage, host: string): string[] {
  const out: string[] = [];
  const connectionTokens = req.headers.connection;
  const extraHop =
    connectionTokens === undefined ? undefined : new Set(connectionTokens.toLowerCase().split(/\s*,\s*/));
  const raw = req.rawHeaders;
  let hasHost = false;
  let hasProto = false;
  let forwardedFor: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (hopByHop.has(lower) || extraHop?.has(lower) === true) continue;
    const value = raw[i + 1] as string;
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      continue;
    }
    if (lower === 'x-forwarded-host') hasHost = true;
    else if (lower === 'x-forwarded-proto') hasProto = true;
    out.push(name, value);
  }
  const remote = req.socket.remoteAddress ?? '';
  out.push('x-forwarded-for', forwardedFor === undefined ? remote : `${forwardedFor}, ${remote}`);
  if (!hasHost) out.push('x-forwarded-host', host);
  if (!hasProto) out.push('x-forwarded-proto', 'http');
  return out;
}

/** Response headers for the client, as a flat raw list (keeps case, no re-parsing). */
export function responseHeaders(res: IncomingMessage): string[] {
  const out: string[] = [];
  const raw = res.rawHeaders;
  const connectionTokens = res.headers.connection;
  const extraHop =
    connectionTokens === undefined ? undefined : new Set(connectionTokens.toLowerCase().split(/\s*,\s*/));
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (hopByHop.has(lower) || extraHop?.has(lower) === true) continue;
    out.push(name, raw[i + 1] as string);
  }
  return out;
}
