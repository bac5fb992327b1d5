import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closest, formatDiagnostic, levenshtein, validateServiceText } from './index.js';

const FILE = 'services/svc/service.yaml';

void test('diagnostics point at the offending node: unknown key, missing field, wrong type, bad list value', () => {
  const text = [
    'service:', //                      1
    '  id: svc', //                     2
    '  owners: [team]', //              3
    '  description: Does things.', //   4
    '  nmae: Service', //               5  unknown key: the key
    'environments:', //                 6
    '  - id: dev', //                   7  missing category: the enclosing mapping
    '    deploy:', //                   8
    '      type: manual', //            9
    '    instances:', //                10
    '      resources:', //              11
    "        cpu: '2'", //              12 wrong type: the value
    '  - id: prod', //                  13
    '    category: internal', //        14
    '    deploy: { type: manual }', //  15
    '    resources:', //                16
    '      postgreSQL:', //             17
    '        databases:', //            18
    '          - ok_db', //             19
    '          - Bad-DB', //            20 bad list value: the item
    '',
  ].join('\n');
  const { diagnostics } = validateServiceText(FILE, text);
  assert.deepEqual(
    diagnostics.map((d) => `${d.line}:${d.column} ${d.path}`),
    [
      '5:3 service.nmae',
      '7:5 environments[0].category',
      '12:14 environments[0].instances.resources.cpu',
      '20:13 environments[1].resources.postgreSQL.databases[1]',
    ],
  );
  assert.equal(
    formatDiagnostic(diagnostics[0]!),
    `${FILE}:5:3: service.nmae: unknown key \`nmae\`; did you mean \`name\`?`,
  );
  assert.match(diagnostics[2]!.message, /expected a number, got the string `2`/);
});

void test('a missing top-level field points at the document start; an empty file is one diagnostic', () => {
  const { diagnostics } = validateServiceText(
    FILE,
    '# comment\nservice:\n  id: svc\n  owners: [t]\n  description: d\n',
  );
  assert.deepEqual(
    diagnostics.map((d) => `${d.line}:${d.column} ${d.path} ${d.message}`),
    ['2:1 environments required field `environments` is missing'],
  );
  const empty = validateServiceText(FILE, '');
  assert.equal(empty.diagnostics.length, 1);
  assert.match(empty.diagnostics[0]!.message, /file is empty/);
});

void test('an unknown key with no close match lists the allowed keys', () => {
  const first = 'service: { id: svc, owners: [t], description: d, colour: blue }';
  const { diagnostics } = validateServiceText(
    FILE,
    `${first}\nenvironments: [{ id: dev, category: test, deploy: { type: manual } }]\n`,
  );
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0]!.line, 1);
  assert.equal(diagnostics[0]!.column, first.indexOf('colour') + 1);
  assert.match(
    diagnostics[0]!.message,
    /unknown key `colour`; allowed keys: id, name, owners, description, kind, protocol/,
  );
});

void test('did you mean: nested keys and case slips', () => {
  const text = [
    'service: { id: svc, owners: [t], description: d }',
    'environments:',
    '  - id: dev',
    '    category: test',
    '    deploy: { type: manual }',
    '    healthprobes: { timeout: 3 }',
    '    resources:',
    '      postgres: { databases: [x] }',
    '    projectId: svc-dev',
    '',
  ].join('\n');
  const { diagnostics } = validateServiceText(FILE, text);
  assert.deepEqual(
    diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`),
    [
      '6:5 unknown key `healthprobes`; did you mean `healthProbes`?',
      '8:7 unknown key `postgres`; did you mean `postgreSQL`?',
      '9:5 unknown key `projectId`; did you mean `projectID`?',
    ],
  );
});

void test('malformed YAML is a diagnostic at the parser position, never a throw', () => {
  const cases: [string, string][] = [
    ['service:\n  id: a: b\n', '2:7'],
    ['service:\n  id: svc\n  id: other\n', '3:3'],
    ['x: "unterminated\n', '2:1'],
  ];
  for (const [text, at] of cases) {
    const { diagnostics, spec } = validateServiceText(FILE, text);
    assert.equal(spec, undefined);
    assert.equal(diagnostics.length, 1, text);
    assert.equal(`${diagnostics[0]!.line}:${diagnostics[0]!.column}`, at, text);
    assert.match(diagnostics[0]!.message, /^malformed YAML: /);
    assert.doesNotMatch(diagnostics[0]!.message, /\n/);
  }
});

void test('levenshtein and closest', () => {
  assert.equal(levenshtein('kitten', 'sitting'), 3);
  assert.equal(levenshtein('', 'abc'), 3);
  assert.equal(levenshtein('same', 'same'), 0);
  assert.equal(closest('ownres', ['owners', 'name']), 'owners');
  assert.equal(closest('zzzzzz', ['owners', 'name']), undefined);
});
