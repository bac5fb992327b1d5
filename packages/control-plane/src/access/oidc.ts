/**
 * Bearer JWTs of the OIDC issuer msp.yaml names (`access.oidc`): signature checked with `jose` against the
 * issuer's JWKS (found through its discovery document), plus issuer, audience and expiry. The user is the
 * `usernameClaim`; their role is the one `msp users add` gave them, else the `roleClaim` when configured.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { Principal } from '../api/app.js';
import { RESERVED_NAMES, ROLES, type Role } from './store.js';

export interface OidcConfig {
  issuer: string;
  audience: string;
  usernameClaim: string;
  roleClaim?: string | undefined;
}

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function createOidcVerifier(
  config: OidcConfig,
  roleOf: (name: string) => Promise<{ role: Role; disabled: boolean } | undefined>,
) {
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  const keys = async () => {
    if (jwks) return jwks;
    const base = config.issuer.replace(/\/$/, '');
    const res = await fetch(`${base}/.well-known/openid-configuration`, {
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`OIDC discovery at ${base} answered ${res.status}`);
    const doc = (await res.json()) as { jwks_uri?: string };
    if (!doc.jwks_uri) throw new Error(`OIDC discovery at ${base} names no jwks_uri`);
    jwks = createRemoteJWKSet(new URL(doc.jwks_uri));
    return jwks;
  };
  return {
    /** The person a JWT names, or undefined when it is not one of the issuer's valid tokens. */
    async verify(token: string): Promise<(Principal & { payload: JWTPayload }) | undefined> {
      if (!JWT.test(token)) return undefined;
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, await keys(), {
          issuer: config.issuer,
          audience: config.audience,
          requiredClaims: ['exp'],
        }));
      } catch {
        return undefined;
      }
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
