/** JSON Schema of the three files, generated from the zod schemas (editor completion, docs). */
import { z } from 'zod';
import { instanceFileSchema } from './instance-schema.js';
import { platformConfigSchema } from './platform-schema.js';
import { serviceSpecSchema } from './service-schema.js';

export type SchemaKind = 'service' | 'instance' | 'platform';
export const SCHEMA_KINDS: readonly SchemaKind[] = ['service', 'instance', 'platform'];

const META: Record<SchemaKind, { title: string; description: string }> = {
  service: {
    title: 'MSP service spec',
    description: 'services/<id>/service.yaml: a service, its environments, resources, alerts and rollout.',
  },
  instance: {
    title: 'MSP managed instance',
    description:
      'environments/<env>/deployments/<id>/config.yaml: one managed instance of a product service.',
  },
  platform: {
    title: 'MSP platform config',
    description: 'msp.yaml: the organisation, base domain, environments and links of a platform repo.',
  },
};

export function jsonSchemaFor(kind: SchemaKind): Record<string, unknown> {
  const schema =
    kind === 'service' ? serviceSpecSchema : kind === 'instance' ? instanceFileSchema : platformConfigSchema;
  const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' });
  const { $schema, ...rest } = json as Record<string, unknown>;
  return { $schema, $id: `urn:msp:schema:${kind}`, ...META[kind], ...rest };
}
