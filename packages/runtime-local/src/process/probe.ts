import { request } from 'node:http';

export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly error: string };

/**
 * One health probe: `GET http://127.0.0.1:<port><path>` with the bearer secret. Only 200 passes.
 * The error text never contains the secret.
 */
export function probeHttp(options: {
  port: number;
  path: string;
  secret: string;
  timeoutMs: number;
}): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = request(
      {
        host: '127.0.0.1',
        port: options.port,
        path: options.path,
        method: 'GET',
        agent: false,
        headers: { authorization: `Bearer ${options.secret}`, connection: 'close' },
      },
      (res) => {
        res.resume();
        done(
          res.statusCode === 200
            ? { ok: true }
            : { ok: false, error: `GET ${options.path} answered ${res.statusCode ?? 'no status'}` },
        );
      },
    );
    const timer = setTimeout(() => {
      done({ ok: false, error: `GET ${options.path} timed out after ${options.timeoutMs} ms` });
      req.destroy();
    }, options.timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => {
      done({ ok: false, error: `GET ${options.path} failed: ${error.code ?? error.message}` });
    });
    req.end();
  });
}
