/**
 * Bearer JWTs of the OIDC issuer msp.yaml names (`access.oidc`): signature checked with `jose` against the
 * issuer's JWKS (found through its discovery document), plus issuer, audience and expiry. The user is the
 * `usernameClaim`; their role is the one `msp users add` gave them, else the `roleClaim` when configured.
 * The dashboard's browser sign-in (dashboard/oidc-sign-in.ts) uses the same discovery and checks.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { Principal } from '../api/app.js';
import { RESERVED_NAMES, ROLES, type Role } from './store.js';

export interface OidcConfig {
  issuer: string;
  audience: string;
  usernameClaim: string;
  roleClaim?: string | undefined;
  /** The dashboard's OAuth client at the issuer (default: `audience`); its ID tokens carry it as `aud`. */
  clientId?: string | undefined;
  /** The name of the client secret in the secret store (`msp access oidc-secret set`), for confidential clients. */
  clientSecret?: string | undefined;
}

export interface OidcDiscovery {
  issuer?: string;
  jwks_uri: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  token_endpoint_auth_methods_supported?: string[];
}

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const discovered = new Map<string, { doc: OidcDiscovery; jwks: ReturnType<typeof createRemoteJWKSet> }>();

/** The issuer's discovery document and key set (fetched once per issuer; a failure is tried again). */
export async function discover(issuer: string) {
  const known = discovered.get(issuer);
  if (known) return known;
  const base = issuer.replace(/\/$/, '');
  const res = await fetch(`${base}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`OIDC discovery at ${base} answered ${res.status}`);
  const doc = (await res.json()) as OidcDiscovery;
  if (!doc.jwks_uri) throw new Error(`OIDC discovery at ${base} names no jwks_uri`);
  const entry = { doc, jwks: createRemoteJWKSet(new URL(doc.jwks_uri)) };
  discovered.set(issuer, entry);
  return entry;
}

/** The claims of one of the issuer's valid JWTs (signature, issuer, audience, expiry), else undefined. */
export async function verifyJwt(config: OidcConfig, token: string): Promise<JWTPayload | undefined> {
  if (!JWT.test(token)) return undefined;
  const { jwks } = await discover(config.issuer);
  const audience = [config.audience, ...(config.clientId ? [config.clientId] : [])];
  try {
    return (await jwtVerify(token, jwks, { issuer: config.issuer, audience, requiredClaims: ['exp'] }))
      .payload;
  } catch {
    return undefined;
  }
}

export function createOidcVerifier(
  config: OidcConfig,
  roleOf: (name: string) => Promise<{ role: Role; disabled: boolean } | undefined>,
) {
  return {
    /** The person a JWT names, or undefined when it is not one of the issuer's valid tokens. */
    async verify(token: string): Promise<(Principal & { payload: JWTPayload }) | undefined> {
      const payload = await verifyJwt(config, token);
      if (!payload) return undefined;
      const name = payload[config.usernameClaim];
      // Never the bootstrap admin or one of the control plane's own actors (they need no grants).
      if (typeof name !== 'string' || name === '' || RESERVED_NAMES.includes(name)) return undefined;
      const user = await roleOf(name);
      if (user?.disabled) return undefined;
      const claimed = config.roleClaim ? payload[config.roleClaim] : undefined;
      const role = user?.role ?? (ROLES.includes(claimed as Role) ? (claimed as Role) : undefined);
      return role ? { name, role, payload } : undefined;
    },
  };
}
