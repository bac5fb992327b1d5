/** The control plane's own /api/v1 routes: status, deployments, operations, events, logs, database access. */
import { z } from 'zod';
import type { Operation } from '@msp/core';
import type { RepoState } from '../repo-state.js';
import type { DeploymentRuntimeStatus, TemporaryDbAccess } from '../runtime-port.js';
import type { DeploymentRow, EventRow, OperationLogLine } from '../state/store.js';
import {
  deploymentKey,
  idParam,
  jsonBody,
  jsonResponse,
  keyParam,
  optionalDeploymentQuery,
  route,
  text,
  typed,
} from './schemas.js';

export const pgConnectBody = z.strictObject({
  deployment: deploymentKey,
  access: z.enum(['read', 'write']).default('read'),
  // Credentials always expire: at least 1 s, at most a day.
  sessionTimeoutSeconds: z.number().int().min(1).max(86_400).default(300),
});

export const deploymentActionBody = z.strictObject({
  reason: text().max(500).optional(),
  /** delete only: the deployment's key, to delete one the platform repo still declares (after a final backup). */
  confirm: text().max(500).optional(),
});

export interface StatusView {
  proxyUrl: string | null;
  /** The last reconcile's reading of the platform repo: its validation errors while it does not validate. */
  repo: RepoState | null;
  deployments: Array<
    Pick<
      DeploymentRow,
      | 'key'
      | 'kind'
      | 'service'
      | 'environment'
      | 'instance'
      | 'desiredState'
      | 'status'
      | 'statusDetail'
      | 'release'
      | 'restarts'
    > & { runtime: DeploymentRuntimeStatus | null }
  >;
}

const operation = typed<Operation>('An operation (see GET /operations/{id})');
const action = (kind: 'deploy' | 'stop' | 'delete') =>
  route({
    method: 'post',
    path: `/deployments/{key}/${kind}`,
    summary: `${kind[0]!.toUpperCase()}${kind.slice(1)} a deployment (an operation)`,
    request: { params: keyParam, body: { ...jsonBody(deploymentActionBody), required: false } },
    responses: { 202: jsonResponse('The queued operation', operation) },
  });

export const coreRoutes = {
  info: route({
    method: 'get',
    path: '/info',
    summary: 'The control plane: version, repo, data dir, proxy URL',
    responses: { 200: jsonResponse('About this control plane', typed<Record<string, unknown>>('Info')) },
  }),
  status: route({
    method: 'get',
    path: '/status',
    summary: 'Every deployment with its status and its instances',
    responses: { 200: jsonResponse('Status', typed<StatusView>('Status of every deployment')) },
  }),
  deployment: route({
    method: 'get',
    path: '/deployments/{key}',
    summary: 'One deployment',
    request: { params: keyParam },
    responses: {
      200: jsonResponse(
        'The deployment',
        typed<DeploymentRow & { runtime: DeploymentRuntimeStatus | null }>('A deployment'),
      ),
    },
  }),
  deploy: action('deploy'),
  stop: action('stop'),
  delete: action('delete'),
  reconcile: route({
    method: 'post',
    path: '/reconcile',
    summary: 'Reconcile the platform repo now',
    responses: {
      200: jsonResponse(
        'What the reconciler did',
        typed<{
          actions: Array<{ kind: string; key: string; reason: string; operationId?: string }>;
          repo: RepoState | null;
        }>('Reconcile actions, and the platform repo as read (its errors when it does not validate)'),
      ),
    },
  }),
  operations: route({
    method: 'get',
    path: '/operations',
    summary: 'Recent operations, newest first',
    request: {
      query: optionalDeploymentQuery.extend({
        limit: z.coerce.number().int().min(1).max(1000).default(50),
      }),
    },
    responses: { 200: jsonResponse('Operations', typed<{ operations: Operation[] }>('Operations')) },
  }),
  operation: route({
    method: 'get',
    path: '/operations/{id}',
    summary: 'One operation with its steps and log',
    request: { params: idParam },
    responses: {
      200: jsonResponse(
        'The operation',
        typed<Operation & { log: OperationLogLine[] }>('An operation with its log'),
      ),
    },
  }),
  events: route({
    method: 'get',
    path: '/events',
    summary: 'Recent events',
    request: { query: optionalDeploymentQuery },
    responses: { 200: jsonResponse('Events', typed<{ events: EventRow[] }>('Events')) },
  }),
  logs: route({
    method: 'get',
    path: '/logs/{key}',
    summary: 'Log lines of a deployment as NDJSON (`follow` keeps the stream open)',
    request: {
      params: keyParam,
      query: z.object({
        since: text().max(100).optional().meta({ description: 'A duration (10m) or an RFC 3339 time' }),
        follow: z.enum(['1', 'true', '0', 'false']).optional(),
      }),
    },
    responses: {
      200: {
        description: 'One JSON log line per line',
        content: { 'application/x-ndjson': { schema: z.string() } },
      },
    },
  }),
  pgConnect: route({
    method: 'post',
    path: '/pg/connect',
    summary: 'Temporary database credentials for a deployment',
    request: { body: jsonBody(pgConnectBody) },
    responses: { 201: jsonResponse('The credentials', typed<TemporaryDbAccess>('Temporary credentials')) },
  }),
};
