/** The OpenAPI document of /api/v1, with request bodies generated from the same zod schemas the routes use. */
import { z } from 'zod';
import { deploymentActionBody, pgConnectBody } from './schemas.js';
import { backupBody, deploymentBody as backupDeploymentBody, restoreBody } from '../backups/schemas.js';
import {
  releaseCreateBody,
  releasePublishBody,
  rolloutDeployBody,
  rolloutPromoteBody,
  rolloutRollbackBody,
  rolloutServiceBody,
} from '../rollouts/schemas.js';

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
  {
    method: 'get',
    path: '/backups',
    summary:
      'Backups of a deployment with the recoverable window, ages of the last good base backup and last archived WAL, archiver status, drills (query: deployment)',
  },
  {
    method: 'post',
    path: '/backups',
    summary: 'Take a backup (base backup + volume snapshots)',
    body: backupBody,
  },
  { method: 'get', path: '/backups/{id}', summary: 'One backup with its verification', params: ['id'] },
  {
    method: 'post',
    path: '/backups/{id}/verify',
    summary: 'Verify every checksum of a backup',
    params: ['id'],
  },
  {
    method: 'post',
    path: '/backups/{id}/delete',
    summary: 'Delete a backup (never the last good one); DELETE /backups/{id} too',
    params: ['id'],
  },
  { method: 'post', path: '/backups/retention', summary: 'Run retention now', body: backupDeploymentBody },
  { method: 'post', path: '/backups/drills', summary: 'Run a restore drill now', body: backupDeploymentBody },
  {
    method: 'post',
    path: '/restores',
    summary: 'Restore to a time, a backup or the latest state, into a clone or in place',
    body: restoreBody,
  },
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
  {
    method: 'get',
    path: '/releases',
    summary: "A service's releases from the Release Registry (query: service)",
  },
  {
    method: 'post',
    path: '/releases',
    summary: 'Pack and register a release, then deliver it to the first rollout stage',
    body: releaseCreateBody,
  },
  {
    method: 'post',
    path: '/releases/publish',
    summary: 'Make a release public in the Release Registry',
    body: releasePublishBody,
  },
  {
    method: 'get',
    path: '/rollouts/status',
    summary: "Each stage's release, health, candidates (query: service)",
  },
  {
    method: 'post',
    path: '/rollouts/promote',
    summary: 'Promote a release to the next stage',
    body: rolloutPromoteBody,
  },
  {
    method: 'post',
    path: '/rollouts/suspend',
    summary: 'Suspend a rollout pipeline',
    body: rolloutServiceBody,
  },
  {
    method: 'post',
    path: '/rollouts/resume',
    summary: 'Resume a rollout pipeline',
    body: rolloutServiceBody,
  },
  {
    method: 'post',
    path: '/rollouts/rollback',
    summary: 'Redeploy the release a stage ran before',
    body: rolloutRollbackBody,
  },
  {
    method: 'post',
    path: '/rollouts/deploy',
    summary: 'Deploy a release to an environment with deploy type manual',
    body: rolloutDeployBody,
  },
  {
    method: 'get',
    path: '/rollouts/history',
    summary: 'Every delivery, promotion and rollback (query: service)',
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
