/**
 * The building blocks of every /api/v1 route definition (`createRoute` from @hono/zod-openapi): one text
 * refinement for every id and text field, the error body, typed responses. A route is defined once; the
 * server validates with it, the OpenAPI document is generated from it, the CLI's client is typed by it.
 */
import { createRoute, type RouteConfig } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import type { ApiEnv } from './app.js';
import { PayloadTooLargeError } from './errors.js';

/** Every JSON body is limited to 1 MB: past it the answer is 413, before the rest is read. */
export const JSON_BODY_LIMIT = 1024 * 1024;
const jsonLimit: MiddlewareHandler<ApiEnv> = bodyLimit({
  maxSize: JSON_BODY_LIMIT,
  onError: () => {
    throw new PayloadTooLargeError();
  },
});

/**
 * Any text from a caller: ids, keys, names, reasons. A NUL byte is refused at the edge (PostgreSQL
 * rejects 0x00, so it would otherwise surface as a 500 deep inside).
 */
export const text = () => z.string().refine((s) => !s.includes('\0'), 'must not contain a NUL byte');

/** A deployment key (`service/environment`, `service/environment/instance`): in a path, `/` is `%2F`. */
export const deploymentKey = text().min(1).max(300).meta({
  description: 'A deployment key such as `releaseregistry/dev`; in a path its `/` is sent as `%2F`.',
});

export const errorBody = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .meta({ id: 'Error' });

/** A response body typed for the client without being re-validated on the server. */
export const typed = <T>(description: string) => z.custom<T>().meta({ type: 'object', description });

const errors = {
  400: { description: 'Invalid input', content: { 'application/json': { schema: errorBody } } },
  401: {
    description: 'Missing or invalid bearer token',
    content: { 'application/json': { schema: errorBody } },
  },
  404: { description: 'Not found', content: { 'application/json': { schema: errorBody } } },
  409: {
    description: 'Conflict (another operation runs on the deployment)',
    content: { 'application/json': { schema: errorBody } },
  },
  412: { description: 'Precondition failed', content: { 'application/json': { schema: errorBody } } },
  413: { description: 'Request body too large', content: { 'application/json': { schema: errorBody } } },
} as const;

/** The JSON request body of a route (always required: the CLI sends `{}` when it has nothing to say). */
export const jsonBody = <S extends z.ZodType>(schema: S) => ({
  required: true as const,
  content: { 'application/json': { schema } },
});

/** A JSON response of the given status. */
export const jsonResponse = <S extends z.ZodType>(description: string, schema: S) => ({
  description,
  content: { 'application/json': { schema } },
});

/**
 * Defines a route with the error responses every route may give and the JSON body limit (a route that
 * takes a larger body, an upload, brings its own `middleware`).
 */
export function route<
  const R extends Omit<RouteConfig, 'path' | 'responses'> & {
    path: string;
    responses: RouteConfig['responses'];
  },
>(config: R) {
  return createRoute({
    middleware: jsonLimit,
    ...config,
    responses: { ...errors, ...config.responses },
  });
}

export const keyParam = z.object({ key: deploymentKey });
export const idParam = z.object({ id: text().min(1).max(200) });
export const deploymentQuery = z.object({ deployment: deploymentKey });
export const optionalDeploymentQuery = z.object({ deployment: deploymentKey.optional() });
export const serviceId = text()
  .regex(/^[a-z0-9-]+$/, 'a service id such as "releaseregistry"')
  .max(100);
