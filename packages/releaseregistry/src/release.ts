import { z } from 'zod';
import { InputError } from '@msp/core';
import { versionProblem } from './semver.js';

/**
 * The release model and the one schema that validates it at every edge: request bodies and path parameters
 * on the server, responses in the client.
 */
export const ARTIFACT_KINDS = ['bundle', 'image'] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

export interface Artifact {
  /** Content address, `sha256:<64 hex>`; verified before use. */
  readonly digest: string;
  /** Where to fetch it: a path or URL for a bundle, an image reference for an image. */
  readonly url: string;
  readonly kind: ArtifactKind;
  /** Size in bytes, when known. */
  readonly size?: number;
}

export interface Release {
  readonly id: number;
  /** The product, e.g. `releaseregistry`. */
  readonly name: string;
  /** `v5.3.2`, `v2.0.0-rc.1`. */
  readonly version: string;
  readonly git_sha: string;
  readonly public: boolean;
  readonly is_development: boolean;
  /** ISO 8601. */
  readonly created_at: string;
  /** ISO 8601; null until promoted. */
  readonly promoted_at: string | null;
  readonly tags: readonly string[];
  readonly artifacts: readonly Artifact[];
}

export interface NewRelease {
  readonly name: string;
  readonly version: string;
  readonly git_sha: string;
  readonly is_development?: boolean;
  readonly tags?: readonly string[];
  readonly artifacts?: readonly Artifact[];
}

const required = (what: string) => (issue: { input: unknown }) =>
  issue.input === undefined ? `is required; send ${what}` : `must be ${what}`;

export const productNameSchema = z
  .string({ error: required('a product name such as "releaseregistry"') })
  .max(100, 'must be at most 100 characters')
  .regex(
    /^[a-z0-9][a-z0-9-]*$/,
    'must be lowercase letters, digits and dashes, starting with a letter or digit (e.g. "releaseregistry")',
  );

export const versionSchema = z
  .string({ error: required('a version such as "v1.2.3"') })
  .superRefine((v, ctx) => {
    const problem = versionProblem(v);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

export const gitShaSchema = z
  .string({ error: required('a git commit SHA (7 to 40 hex characters)') })
  .regex(/^[0-9a-fA-F]{7,40}$/, 'must be a git commit SHA: 7 to 40 hex characters (e.g. "3f2a9c1")')
  .transform((s) => s.toLowerCase());

export const artifactSchema = z.strictObject({
  digest: z
    .string({ error: required('a content digest "sha256:<64 hex>"') })
    .regex(/^sha256:[0-9a-f]{64}$/, 'must be "sha256:" followed by 64 lowercase hex characters'),
  url: z.string({ error: required('where the artifact is fetched from') }).min(1, 'must not be empty'),
  kind: z.enum(ARTIFACT_KINDS, { error: 'must be "bundle" or "image"' }),
  size: z.number().int().nonnegative('must be a byte count, 0 or more').optional(),
});

const tagSchema = z
  .string({ error: 'must be a string' })
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/,
    'must be 1–100 letters, digits or . _ : / - (e.g. "insiders")',
  );

export const newReleaseSchema = z.strictObject(
  {
    name: productNameSchema,
    version: versionSchema,
    git_sha: gitShaSchema,
    is_development: z.boolean({ error: 'must be true or false' }).optional(),
    tags: z
      .array(tagSchema, { error: 'must be an array of strings' })
      .max(50, 'must hold at most 50 tags')
      .optional(),
    artifacts: z
      .array(artifactSchema, { error: 'must be an array of {digest, url, kind}' })
      .max(20, 'must hold at most 20 artifacts')
      .optional(),
  },
  {
    error: (issue) =>
      issue.code === 'invalid_type'
        ? 'must be a JSON object like {"name": "myproduct", "version": "v1.2.3", "git_sha": "3f2a9c1"}'
        : undefined,
  },
);

/** Responses, read by the client: tolerant of fields a newer server adds. */
export const releaseSchema = z.object({
  id: z.number(),
  name: z.string(),
  version: z.string(),
  git_sha: z.string(),
  public: z.boolean(),
  is_development: z.boolean(),
  created_at: z.string(),
  promoted_at: z.string().nullable(),
  tags: z.array(z.string()),
  artifacts: z
    .array(
      z.object({
        digest: z.string(),
        url: z.string(),
        kind: z.enum(ARTIFACT_KINDS),
        size: z.number().optional(),
      }),
    )
    .default([]),
});

/** One line per problem: `field: what is wrong and how to fix it`. */
export function describeIssues(error: z.ZodError, where: string): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        const prefix = path === '' ? '' : `${path}: `;
        return `${prefix}unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove ${issue.keys.length > 1 ? 'them' : 'it'}`;
      }
      return `${path === '' ? where : path}: ${issue.message}`;
    })
    .join('; ');
}

/** Parses with `schema`, turning a failure into an InputError that names each field and its fix. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new InputError(describeIssues(result.error, where));
  return result.data;
}
