import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDiagnostic, scaffoldService, validateServiceText } from './index.js';

void test('a scaffolded service validates as written, with or without the repo environments', () => {
  for (const environments of [
    undefined,
    [
      { id: 'dev', category: 'test' as const },
      { id: 'staging', category: 'internal' as const },
      { id: 'prod', category: 'external' as const },
    ],
  ]) {
    const { serviceYaml, readme } = scaffoldService({
      id: '9-lives',
      owner: 'team-a',
      ...(environments ? { environments } : {}),
    });
    const { spec, diagnostics } = validateServiceText('services/9-lives/service.yaml', serviceYaml);
    assert.deepEqual(diagnostics.map(formatDiagnostic), []);
    assert.deepEqual(spec?.service.owners, ['team-a']);
    const ids = (environments ?? [{ id: 'dev' }, { id: 'prod' }]).map((e) => e.id);
    assert.deepEqual(
      spec?.rollout?.stages.map((s) => s.environment),
      ids,
      'first environment is stage 1',
    );
    assert.ok(spec?.environments.every((e) => e.deploy.type === 'rollout'));
    assert.match(readme, /^# 9-lives\n/);
  }
});
