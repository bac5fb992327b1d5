/** The OpenAPI document of /api/v1, with request bodies generated from the same zod schemas the routes use. */
import { z } from 'zod';
import { deploymentActionBody, pgConnectBody } from './schemas.js';

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } },
    },
  },
};

type Route = { method: 'get' | 'post'; path: string; summary: string; body?: z.ZodType; params?: string[] };

const routes: Route[] = [
  { method: 'get', path: '/info', summary: 'Control plane version, data dir and addresses' },
  { method: 'get', path: '/status', summary: 'Every deployment: release, health, instances, URLs, database' },
  { method: 'get', path: '/deployments/{key}', summary: 'One deployment', params: ['key'] },
  {
    method: 'post',
    path: '/deployments/{key}/deploy',
    summary: 'Deploy (start or update) a deployment',
    params: ['key'],
    body: deploymentActionBody,
  },
  {
    method: 'post',
    path: '/deployments/{key}/stop',
    summary: 'Stop a deployment, keeping its data',
    params: ['key'],
    body: deploymentActionBody,
  },
  {
    method: 'post',
    path: '/deployments/{key}/delete',
    summary: 'Delete a deployment and its data',
    params: ['key'],
    body: deploymentActionBody,
  },
  { method: 'post', path: '/reconcile', summary: 'Reconcile the platform repo now' },
  { method: 'get', path: '/operations', summary: 'Recent operations (query: deployment, limit)' },
  {
    method: 'get',
    path: '/operations/{id}',
    summary: 'One operation with its steps and log',
    params: ['id'],
  },
  { method: 'get', path: '/events', summary: 'Recent events (restarts, health changes, access)' },
  {
    method: 'get',
    path: '/logs/{key}',
    summary: 'Process logs as NDJSON (query: since, follow)',
    params: ['key'],
  },
  {
    method: 'post',
    path: '/pg/connect',
    summary: 'Mint temporary database credentials',
    body: pgConnectBody,
  },
];

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    paths[r.path] ??= {};
    paths[r.path]![r.method] = {
      summary: r.summary,
      security: [{ bearer: [] }],
      parameters: (r.params ?? []).map((name) => ({
        name,
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      ...(r.body
        ? {
            requestBody: {
              content: { 'application/json': { schema: z.toJSONSchema(r.body, { io: 'input' }) } },
            },
          }
        : {}),
      responses: {
        '200': { description: 'OK' },
        '4XX': { description: 'Bad request', content: { 'application/json': { schema: errorSchema } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'MSP control plane API', version: '0.1.0' },
    servers: [{ url: '/api/v1' }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
