/** The releases and rollouts routes: requests validated and documented from these definitions. */
import { z } from 'zod';
import type { Operation, RolloutRecord, StageMove } from '@msp/core';
import type { Release } from '@msp/releaseregistry';
import { jsonBody, jsonResponse, route, serviceId, text, typed } from '../api/schemas.js';

const service = serviceId;
const version = z
  .string()
  .max(200)
  .regex(/^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'a version such as "v1.2.3"');
const soakSeconds = z.number().min(0).max(3600).optional();
const environment = text().min(1).max(100);
/** A bundle's content digest, as uploaded with PUT /artifacts/{digest}. */
export const bundleDigest = z
  .string()
  .regex(/^sha256:[0-9a-f]{64}$/, '"sha256:" and 64 lowercase hex characters');

export const releaseCreateBody = z.strictObject({
  service,
  version,
  bundle: bundleDigest.optional().meta({
    description:
      'The digest of a bundle uploaded with PUT /artifacts/{digest}; without bundle or image the service build.local.dir is packed',
  }),
  image: text().min(1).max(500).optional(),
  gitSha: z
    .string()
    .regex(/^[0-9a-fA-F]{7,40}$/)
    .optional(),
  development: z.boolean().optional(),
  soakSeconds,
});

export const releasePublishBody = z.strictObject({ service, version });
export const rolloutPromoteBody = z.strictObject({
  service,
  to: environment.optional(),
  version: version.optional(),
  soakSeconds,
});
export const rolloutServiceBody = z.strictObject({ service });
export const rolloutRollbackBody = z.strictObject({ service, environment, soakSeconds });
export const rolloutDeployBody = z.strictObject({ service, environment, version, soakSeconds });

export interface RolloutStatusView {
  service: string;
  suspended: boolean;
  suspendedInSpec: boolean;
  suspendedOverride: boolean | null;
  stages: Array<{
    environment: string;
    deployment: string | null;
    release: string | null;
    artifact: string | null;
    previous: string | null;
    status: string;
    statusDetail: string | null;
    instances: Array<{ id: string; state: string; release: string | null }>;
    operation: string | null;
    pendingCandidates: string[];
  }>;
}

const serviceQuery = z.object({ service });
const moved = typed<{ operation: Operation }>('The queued move');

export const releaseRoutes = {
  list: route({
    method: 'get',
    path: '/releases',
    summary: 'Releases (of one service with ?service=)',
    request: { query: z.object({ service: service.optional() }) },
    responses: {
      200: jsonResponse('Releases', typed<{ registry: string; releases: Release[] }>('Releases')),
    },
  }),
  upload: route({
    method: 'put',
    path: '/artifacts/{digest}',
    summary:
      'Upload a release bundle (a tar.gz, streamed); refused unless its sha256 is the digest in the path',
    middleware: [],
    request: {
      params: z.object({ digest: bundleDigest }),
      body: {
        required: true,
        content: { 'application/gzip': { schema: z.string().meta({ format: 'binary' }) } },
      },
    },
    responses: {
      201: jsonResponse('The stored bundle', typed<{ digest: string; size: number }>('The stored bundle')),
    },
  }),
  create: route({
    method: 'post',
    path: '/releases',
    summary: 'Create a release from an uploaded bundle (or an image) and deliver it to the first stage',
    request: { body: jsonBody(releaseCreateBody) },
    responses: {
      201: jsonResponse(
        'The release, and the delivery it started',
        typed<{ release: Release; operation: Operation | null; deliveredTo: string | null }>('The release'),
      ),
    },
  }),
  publish: route({
    method: 'post',
    path: '/releases/publish',
    summary: 'Publish (promote) a release in the registry',
    request: { body: jsonBody(releasePublishBody) },
    responses: { 200: jsonResponse('The release', typed<Release>('A release')) },
  }),
  status: route({
    method: 'get',
    path: '/rollouts/status',
    summary: 'Pipeline status of a service',
    request: { query: serviceQuery },
    responses: { 200: jsonResponse('Status', typed<RolloutStatusView>('Pipeline status')) },
  }),
  promote: route({
    method: 'post',
    path: '/rollouts/promote',
    summary: 'Promote a release to the next stage',
    request: { body: jsonBody(rolloutPromoteBody) },
    responses: {
      202: jsonResponse('The move', typed<{ move: StageMove; operation: Operation }>('The promotion')),
    },
  }),
  suspend: route({
    method: 'post',
    path: '/rollouts/suspend',
    summary: 'Suspend a pipeline',
    request: { body: jsonBody(rolloutServiceBody) },
    responses: {
      200: jsonResponse('The pipeline', typed<{ service: string; suspended: boolean }>('Pipeline')),
    },
  }),
  resume: route({
    method: 'post',
    path: '/rollouts/resume',
    summary: 'Resume a pipeline',
    request: { body: jsonBody(rolloutServiceBody) },
    responses: {
      200: jsonResponse('The pipeline', typed<{ service: string; suspended: boolean }>('Pipeline')),
    },
  }),
  rollback: route({
    method: 'post',
    path: '/rollouts/rollback',
    summary: 'Roll a stage back to its previous release',
    request: { body: jsonBody(rolloutRollbackBody) },
    responses: { 202: jsonResponse('The rollback', moved) },
  }),
  deploy: route({
    method: 'post',
    path: '/rollouts/deploy',
    summary: 'Deploy a release to an environment outside the pipeline',
    request: { body: jsonBody(rolloutDeployBody) },
    responses: { 202: jsonResponse('The deployment', moved) },
  }),
  history: route({
    method: 'get',
    path: '/rollouts/history',
    summary: 'Rollout history of a service',
    request: { query: serviceQuery },
    responses: {
      200: jsonResponse('History', typed<{ service: string; history: RolloutRecord[] }>('History')),
    },
  }),
};
