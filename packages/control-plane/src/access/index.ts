/**
 * The access feature: people with roles and their own tokens, OIDC sign-in, role checks on every /api/v1
 * call, and time-bound, approved grants for restricted environments (policy.ts, service.ts). See
 * docs/access.md.
 */
import { loadPlatformRepo } from '@msp/spec';
import type { ApiHooks, Principal } from '../api/app.js';
import { createAuditLog } from '../audit/log.js';
import type { FeatureContext, FeatureModule } from '../server.js';
import { createOidcVerifier, type OidcConfig } from './oidc.js';
import { authorization } from './policy.js';
import { accessApi } from './routes.js';
import { createAccessService } from './service.js';
import { ACCESS_MIGRATIONS, createAccessStore } from './store.js';

export { accessRoutes } from './schemas.js';
export { roleNeeded, hasRole, policyOf, READ_ONLY_KINDS } from './policy.js';
export {
  createAccessStore,
  ROLES,
  GRANT_ROLES,
  type RequestRow,
  type UserRow,
  type TokenRow,
} from './store.js';

export interface AccessModuleOptions {
  /** How often grants are checked for their end (default 5 s). */
  sweepMs?: number;
  /** OIDC settings instead of msp.yaml's `access.oidc` (tests). */
  oidc?: OidcConfig;
}

const SIGN_IN_EVERY_MS = 3600_000;

/** The secret store's scope of access secrets (the OIDC client secret `access.oidc.clientSecret` names). */
export const OIDC_SECRET_SCOPE = 'access';

/** msp.yaml's `access.oidc`, or undefined (none, or the repo does not load). */
export async function oidcOf(repoDir: string): Promise<OidcConfig | undefined> {
  const { repo } = await loadPlatformRepo(repoDir).catch(() => ({ repo: undefined }));
  return (repo?.platform as { access?: { oidc?: OidcConfig } } | undefined)?.access?.oidc;
}

export function createAccessModule(options: AccessModuleOptions = {}): FeatureModule {
  return {
    name: 'access',
    migrations: ACCESS_MIGRATIONS,
    async setup(ctx: FeatureContext) {
      const store = createAccessStore(ctx.db);
      const auditLog = createAuditLog(ctx.db);
      const access = createAccessService({
        store,
        state: ctx.store,
        auditLog,
        runtime: ctx.runtime,
        log: ctx.log,
      });
      access.hooksFor(ctx.engine);

      let oidcConfig = options.oidc ?? (await oidcOf(ctx.repoDir));
      let oidc = oidcConfig ? verifierOf(oidcConfig) : undefined;
      function verifierOf(config: OidcConfig) {
        return createOidcVerifier(config, async (name) => {
          const u = await store.getUser(name);
          return u ? { role: u.role, disabled: u.disabledAt !== null } : undefined;
        });
      }
      const signedIn = new Map<string, number>();
      const signIn = async (who: Principal, via: string, data: Record<string, unknown>) => {
        await access.audit(who.name, 'sign-in', null, { via, role: who.role, ...data });
      };

      const authenticate = async (token: string): Promise<Principal | undefined> => {
        const user = await store.findToken(token);
        if (user) {
          if (user.tokenId === null) return { name: user.name, role: user.role }; // the bootstrap admin
          if (!user.lastUsedAt || Date.now() - Date.parse(user.lastUsedAt) > SIGN_IN_EVERY_MS) {
            await store.touchToken(user.tokenId);
            await signIn(user, 'token', { token: user.tokenId });
          }
          return { name: user.name, role: user.role };
        }
        const jwt = await oidc?.verify(token);
        if (!jwt) return undefined;
        // A person signing in through OIDC for the first time gets a user row (with the claimed role), so
        // the grant checks that apply to people apply to them.
        if (!(await store.getUser(jwt.name))) {
          await store.addUser(jwt.name, jwt.role as 'viewer', 'oidc').catch(() => undefined);
        }
        const key = `${jwt.name}:${String(jwt.payload.iat ?? '')}`;
        if (!signedIn.has(key) || Date.now() - signedIn.get(key)! > SIGN_IN_EVERY_MS) {
          signedIn.set(key, Date.now());
          await signIn(jwt, 'oidc', { issuer: jwt.payload.iss, subject: jwt.payload.sub });
        }
        return { name: jwt.name, role: jwt.role };
      };

      const apiHooks: ApiHooks = {
        authenticate: [authenticate],
        middleware: [authorization()],
        databaseAccess: [(r) => access.beforeDatabaseAccess(r)],
      };
      let timer: NodeJS.Timeout | undefined;
      let sweeping = false;
      return {
        apiHooks,
        routes: [
          (api) =>
            accessApi(api, access, (name, value) => ctx.store.putSecret(OIDC_SECRET_SCOPE, name, value)),
        ],
        onReconciled: async () => {
          if (options.oidc) return;
          const next = await oidcOf(ctx.repoDir);
          if (JSON.stringify(next) !== JSON.stringify(oidcConfig)) {
            oidcConfig = next;
            oidc = next ? verifierOf(next) : undefined;
          }
        },
        start: () => {
          timer = setInterval(() => {
            if (sweeping) return;
            sweeping = true;
            access
              .sweep()
              .catch((e: unknown) => ctx.log(`access: sweep: ${String(e)}`))
              .finally(() => (sweeping = false));
          }, options.sweepMs ?? 5000);
          return Promise.resolve();
        },
        stop: () => {
          clearInterval(timer);
          return Promise.resolve();
        },
      };
    },
  };
}
