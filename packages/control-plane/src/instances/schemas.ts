/** The /instances routes: requests validated and documented from these definitions. */
import { z } from 'zod';
import type { Operation } from '@msp/core';
import { jsonBody, jsonResponse, route, text, typed } from '../api/schemas.js';
import type { BackupRow } from '../backups/store.js';
import type { EventRow } from '../state/store.js';
import type { DryRun, InstanceView } from './service.js';

const slugText = (what: string) =>
  text()
    .max(63)
    .regex(/^[a-z][a-z0-9-]*$/, `${what}: start with a lowercase letter, then a-z, 0-9 and -`);
const instanceParams = z.object({ env: slugText('environment'), id: slugText('instance id') });

export const createBody = z.strictObject({
  id: slugText('instance id').max(30),
  env: slugText('environment'),
  customer: slugText('customer'),
  type: z.enum(['trial', 'production', 'internal']),
  service: text().max(100).optional(),
  version: text().max(100).optional(),
  domain: text().max(253).optional(),
  adminEmail: text().max(254).optional(),
  features: z.array(text().min(1).max(100)).max(50).optional(),
  ttl: text().max(20).optional(),
  region: text().max(50).optional(),
  license: text().max(200).optional(),
  channel: z.enum(['stable', 'insiders', 'pause']).optional(),
  /** Weekly maintenance windows, as config.yaml's `maintenance` (validated by the instance schema). */
  maintenance: z.record(z.string(), z.unknown()).optional(),
  dryRun: z.boolean().optional(),
});
export const upgradeBody = z.strictObject({ to: text().min(1).max(100), dryRun: z.boolean().optional() });
export const deleteBody = z.strictObject({
  confirm: text().max(100).optional(),
  dryRun: z.boolean().optional(),
});
export const extendBody = z.strictObject({ ttl: text().min(1).max(20) });

const queued = typed<Operation | DryRun>('The queued operation, or the plan of a dry run');
const instance = typed<InstanceView>('An instance');

export const instanceRoutes = {
  list: route({
    method: 'get',
    path: '/instances',
    summary: 'Managed instances with version, type, customer, health, last backup and TTL',
    request: { query: z.object({ env: text().max(63).optional() }) },
    responses: { 200: jsonResponse('Instances', typed<{ instances: InstanceView[] }>('Instances')) },
  }),
  show: route({
    method: 'get',
    path: '/instances/{env}/{id}',
    summary: 'One instance, its recent operations and events',
    request: { params: instanceParams },
    responses: {
      200: jsonResponse(
        'The instance',
        typed<{ instance: InstanceView; operations: Operation[]; events: EventRow[] }>(
          'An instance in detail',
        ),
      ),
    },
  }),
  backups: route({
    method: 'get',
    path: '/instances/{env}/{id}/backups',
    summary: "An instance's backups, also after it was deleted (final backups are kept per retention)",
    request: { params: instanceParams },
    responses: { 200: jsonResponse('Backups', typed<{ backups: BackupRow[] }>('Backups')) },
  }),
  create: route({
    method: 'post',
    path: '/instances',
    summary: 'Create an instance (playbook: config committed, provision, deploy, health check, alerting)',
    request: { body: jsonBody(createBody) },
    responses: { 202: jsonResponse('The queued operation', queued) },
  }),
  upgrade: route({
    method: 'post',
    path: '/instances/{env}/{id}/upgrade',
    summary:
      'Upgrade an instance (health, pre-upgrade backup, migrator, deploy, health, config bump; rolls back on failure)',
    request: { params: instanceParams, body: jsonBody(upgradeBody) },
    responses: { 202: jsonResponse('The queued operation', queued) },
  }),
  delete: route({
    method: 'post',
    path: '/instances/{env}/{id}/delete',
    summary: 'Delete an instance (final backup, config removed and committed, teardown)',
    request: { params: instanceParams, body: jsonBody(deleteBody) },
    responses: { 202: jsonResponse('The queued operation', queued) },
  }),
  extend: route({
    method: 'post',
    path: '/instances/{env}/{id}/extend',
    summary: "Set a dev instance's TTL anew, from now",
    request: { params: instanceParams, body: jsonBody(extendBody) },
    responses: { 200: jsonResponse('The instance', instance) },
  }),
};
