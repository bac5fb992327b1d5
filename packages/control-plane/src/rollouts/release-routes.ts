/**
 * The /releases and /artifacts API: list and publish releases, receive a bundle upload, and create a
 * release (from an uploaded bundle, an image pinned by digest, or the service's build.local.dir), which
 * continuous delivery then puts on the pipeline's first stage. Defined with their schemas (schemas.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  ConflictError,
  InputError,
  NotFoundError,
  PreconditionFailedError,
  planDelivery,
  type Operation,
} from '@msp/core';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { apiRouter, type ApiEnv } from '../api/app.js';
import { busyError } from '../api/busy.js';
import { receiveBundle } from '../api/upload.js';
import { releaseRoutes } from './schemas.js';
import { specOf, type RolloutDeps, type RolloutService } from './service.js';

type Artifact = { digest: string; url: string; kind: 'bundle' | 'image'; size?: number };

export function releaseApi(
  api: OpenAPIHono<ApiEnv>,
  service: RolloutService,
  deps: Pick<RolloutDeps, 'artifacts' | 'registry' | 'store'> & { repoDir: string },
): void {
  const { artifacts, registry } = deps;
  const r = releaseRoutes;
  const app = apiRouter();
  app.openapi(r.list, async (c) => {
    const id = c.req.valid('query').service;
    return c.json({ registry: registry.describe, releases: await registry.client.list(id) }, 200);
  });

  // A bundle comes as an upload (the CLI packs the folder): the server reads no path a caller names.
  app.openapi(r.upload, async (c) => {
    const { digest } = c.req.valid('param');
    return c.json(await receiveBundle(c.req.raw, digest, artifacts.pathOf(digest)), 201);
  });

  app.openapi(r.create, async (c) => {
    const body = c.req.valid('json');
    const who = c.get('principal').name;
    const rows = await service.deploymentsOf(body.service);
    const first = specOf(rows.values().next().value!);
    const hasPipeline = first.service.rollout !== undefined;
    // A suspended pipeline refuses the release before anything is registered.
    const pipeline = hasPipeline ? await service.pipelineFor(body.service, rows) : undefined;
    const move = pipeline ? planDelivery(pipeline, body.version) : undefined;
    // A first stage busy with another operation is refused before anything is registered: a release
    // registered but never delivered could not be delivered later (promotion starts from a stage).
    const firstStage = move ? rows.get(move.to) : undefined;
    if (firstStage) {
      const [running] = await deps.store.listOperations({
        deploymentKey: firstStage.key,
        unfinished: true,
        limit: 1,
      });
      if (running) throw busyError(firstStage.key, running, Date.now(), 'and create the release again');
    }
    try {
      await registry.client.get(body.service, body.version);
      throw new ConflictError(
        `${body.service} ${body.version} already exists; versions are immutable: pick the next one (e.g. \`msp release list ${body.service}\`).`,
      );
    } catch (error) {
      if ((error as { status?: number }).status !== 404) throw error;
    }
    if (body.bundle && body.image) throw new InputError('Give --from or --image, not both.');
    let artifact: Artifact;
    let sourceDir: string | undefined;
    if (body.image) {
      const m = /@(sha256:[0-9a-f]{64})$/.exec(body.image);
      if (!m) {
        throw new InputError(
          `--image ${body.image} has no digest: give an image reference pinned by digest (…@sha256:<64 hex>).`,
        );
      }
      artifact = { digest: m[1]!, url: body.image, kind: 'image' };
    } else if (body.bundle) {
      if (!existsSync(artifacts.pathOf(body.bundle))) {
        throw new PreconditionFailedError(
          `Bundle ${body.bundle} was not uploaded: PUT /api/v1/artifacts/${body.bundle} first (\`msp release create --from DIR\` does).`,
        );
      }
      const stored = await artifacts.verify(body.bundle);
      artifact = { digest: body.bundle, url: `file://${stored.path}`, kind: 'bundle', size: stored.size };
    } else {
      const local = first.service.build?.local;
      sourceDir = local ? resolve(first.serviceDir, local.dir) : undefined;
      if (!sourceDir) {
        throw new InputError(`${body.service} has no build.local.dir: give the built code with --from DIR.`);
      }
      const packed = await artifacts.pack(sourceDir);
      artifact = { digest: packed.digest, url: `file://${packed.path}`, kind: 'bundle', size: packed.size };
    }
    const gitSha = body.gitSha ?? (await gitShaOf(sourceDir ?? deps.repoDir)) ?? artifact.digest.slice(7, 47);
    const release = await registry.client.create({
      name: body.service,
      version: body.version,
      git_sha: gitSha,
      is_development: body.development ?? false,
      artifacts: [artifact],
    });
    let operation: Operation | undefined;
    if (move && artifact.kind === 'bundle') {
      const row = rows.get(move.to);
      if (!row) throw new NotFoundError(`Stage ${move.to} of ${body.service} is not deployed.`);
      const { current } = await service.runningIn(body.service, rows);
      operation = await service.enqueueMove(
        row,
        {
          action: 'deliver',
          version: body.version,
          target: { version: body.version, artifact: { digest: artifact.digest, url: artifact.url } },
          from: null,
          ...(body.soakSeconds !== undefined ? { soakSeconds: body.soakSeconds } : {}),
        },
        who,
        current[move.to] ?? null,
      );
    }
    return c.json({ release, operation: operation ?? null, deliveredTo: move?.to ?? null }, 201);
  });

  app.openapi(r.publish, async (c) => {
    const body = c.req.valid('json');
    return c.json(await registry.client.promote(body.service, body.version), 200);
  });
  api.route('/', app);
}

async function gitShaOf(dir: string): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('git', ['rev-parse', 'HEAD'], { cwd: dir });
    return stdout.trim();
  } catch {
    return undefined;
  }
}
