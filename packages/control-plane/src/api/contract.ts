/**
 * The type of the whole /api/v1 API, built from the same route definitions the server registers: the
 * CLI's `hono/client` is typed by it (a type-only import: nothing of the control plane loads in the CLI).
 */
import type { RouteConfig, RouteConfigToTypedResponse, RouteHandler } from '@hono/zod-openapi';
import type { Handler, Hono, ToSchema } from 'hono';
import type { alertRoutes } from '../alerts/schemas.js';
import type { backupRoutes } from '../backups/schemas.js';
import type { instanceRoutes } from '../instances/schemas.js';
import type { fleetRoutes } from '../instances/fleet-routes.js';
import type { releaseRoutes } from '../rollouts/schemas.js';
import type { accessRoutes } from '../access/schemas.js';
import type { auditRoutes } from '../audit/schemas.js';
import type { ApiEnv } from './app.js';
import type { coreRoutes } from './routes.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type InputOf<R extends RouteConfig> = RouteHandler<R> extends Handler<any, any, infer I, any> ? I : never;
type HonoPath<P extends string> = P extends `${infer Start}/{${infer Param}}${infer Rest}`
  ? `${Start}/:${Param}${HonoPath<Rest>}`
  : P;
type SchemaOf<R> = R extends RouteConfig
  ? ToSchema<R['method'], HonoPath<R['path']>, InputOf<R>, RouteConfigToTypedResponse<R>>
  : never;
type Intersect<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
type SchemaOfAll<Routes> = Intersect<{ [K in keyof Routes]: SchemaOf<Routes[K]> }[keyof Routes]>;
type Schema = SchemaOfAll<typeof coreRoutes> &
  SchemaOfAll<typeof backupRoutes> &
  SchemaOfAll<typeof releaseRoutes> &
  SchemaOfAll<typeof accessRoutes> &
  SchemaOfAll<typeof auditRoutes> &
  SchemaOfAll<typeof instanceRoutes> &
  SchemaOfAll<typeof fleetRoutes> &
  SchemaOfAll<typeof alertRoutes>;

/** The control plane API under /api/v1, for `hc<ControlPlaneApi>(url + '/api/v1')`. */
export type ControlPlaneApi = Hono<ApiEnv, { [Path in keyof Schema]: Schema[Path] }, '/'>;
