/**
 * Uptime checks: `GET /-/healthz` of every service deployment with a domain, through the runtime's proxy
 * (Host: the domain), with the deployment's diagnostics secret as its bearer token (the runtime contract),
 * with the probe timeout of its health probes; one check per period (60 s, shrunk
 * by the time scale). Each check is a 1 (2xx) or 0 point of the `uptime` signal; the External Uptime Check
 * policy fires when fewer than 40% pass over 3 minutes.
 */
import { request } from 'node:http';
import { DEFAULT_PROBE_TIMEOUT_SECONDS, type DeploymentSpec } from '@msp/core';
import type { DeploymentRow } from '../state/store.js';
import type { SignalPoint } from './store.js';

/** Whether the deployment gets an uptime check: a service (not a job) with a domain. */
export function checkedDomain(row: DeploymentRow): string | undefined {
  const spec = row.spec as DeploymentSpec;
  if (spec?.service?.service?.kind !== 'service') return undefined;
  return spec.domain ?? spec.environment?.domain;
}

/** One check: true when `/-/healthz` answered 2xx within the timeout. */
export function probeThroughProxy(
  proxyUrl: string,
  domain: string,
  timeoutMs: number,
  secret: string | undefined,
): Promise<boolean> {
  return new Promise((resolve) => {
    const url = new URL('/-/healthz', proxyUrl);
    const req = request(
      url,
      {
        method: 'GET',
        headers: { host: domain, ...(secret ? { authorization: `Bearer ${secret}` } : {}) },
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve((res.statusCode ?? 500) >= 200 && (res.statusCode ?? 500) < 300));
        res.on('error', () => resolve(false));
      },
    );
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** Checks every eligible deployment once, concurrently; the points to record. */
export async function runUptimeChecks(
  rows: readonly DeploymentRow[],
  proxyUrl: string | undefined,
  now: number,
  diagnosticsSecret: (key: string) => Promise<string | undefined>,
): Promise<SignalPoint[]> {
  if (!proxyUrl) return [];
  const at = new Date(now).toISOString();
  const checks = rows.flatMap((row) => {
    const domain = checkedDomain(row);
    if (!domain) return [];
    const spec = row.spec as DeploymentSpec;
    const timeoutMs = (spec.environment.healthProbes?.timeout ?? DEFAULT_PROBE_TIMEOUT_SECONDS) * 1000;
    return [
      diagnosticsSecret(row.key)
        .then((secret) => probeThroughProxy(proxyUrl, domain, timeoutMs, secret))
        .then((ok): SignalPoint => ({
          at,
          deploymentKey: row.key,
          signal: 'uptime',
          instance: '',
          value: ok ? 1 : 0,
        })),
    ];
  });
  return Promise.all(checks);
}
