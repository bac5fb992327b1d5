/**
 * The gcp target: deployments of environments with `runtime: gcp` are generated as Terraform JSON
 * (`msp generate`), committed and applied by Terraform; the control plane checks the hand-over. It does not
 * read Google Cloud: its status says "generated, not observed".
 */
import type { TargetFactory } from '../registry.js';
import { createGitopsTarget } from '../gitops.js';
import { NOT_OBSERVED } from '../kubernetes/index.js';

export function createGcpTarget(): TargetFactory {
  return ({ store, repoDir }) =>
    Promise.resolve(
      createGitopsTarget({
        target: 'gcp',
        store,
        repoDir,
        status: (h) => ({
          key: h.key,
          instances: [{ id: h.namespace, state: NOT_OBSERVED, restarts: 0, lastError: h.detail }],
          urls: h.urls,
          pendingRequests: 0,
        }),
        instead: {
          workloads: 'Cloud Run scales it; use gcloud run services update to change it.',
          backups:
            'Cloud SQL takes daily backups (kept 90) with point-in-time recovery over 7 days; restore with gcloud sql backups restore.',
          logs: 'Read them in Cloud Logging (gcloud logging read).',
          database: 'Connect with the Cloud SQL Auth Proxy and IAM authentication.',
        },
      }),
    );
}
