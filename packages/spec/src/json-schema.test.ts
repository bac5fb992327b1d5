import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonSchemaFor, SCHEMA_KINDS } from './index.js';

void test('JSON Schema of each file: $id, title, strict objects, defaults as optional', () => {
  for (const kind of SCHEMA_KINDS) {
    const schema = jsonSchemaFor(kind);
    assert.equal(schema.$id, `urn:msp:schema:${kind}`);
    assert.match(String(schema.title), /^MSP /);
    assert.equal(schema.type, 'object');
    assert.equal(schema.additionalProperties, false);
  }
  const service = jsonSchemaFor('service') as {
    required: string[];
    properties: {
      environments: { items: { required: string[]; properties: Record<string, { default?: unknown }> } };
    };
  };
  assert.deepEqual(service.required, ['service', 'environments']);
  const env = service.properties.environments.items;
  assert.deepEqual(env.required.sort(), ['category', 'deploy', 'id']);
  assert.equal(env.properties.allowDestroys?.default, false);
  const instance = jsonSchemaFor('instance') as { required: string[] };
  assert.deepEqual(instance.required.sort(), ['adminEmail', 'customer', 'service', 'type', 'version']);
  const platform = jsonSchemaFor('platform') as { required: string[] };
  assert.deepEqual(platform.required.sort(), ['baseDomain', 'environments', 'organization']);
});
