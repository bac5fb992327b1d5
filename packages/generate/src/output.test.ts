import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { toYaml, yamlOf } from './output.js';

void test('the YAML emitter reads back as the same data, whatever the strings hold', () => {
  const tricky = [
    '',
    ' ',
    'true',
    'False',
    'yes',
    'NO',
    'on',
    'null',
    '~',
    '1',
    '0.9',
    '1e3',
    '0x1F',
    '010',
    '12:30',
    '.inf',
    '-',
    '- a',
    'a: b',
    'a:b',
    'a #b',
    'a#b',
    '#x',
    '*x',
    '&x',
    '!x',
    '|',
    '>',
    '%x',
    '@x',
    '`x',
    "'q'",
    '"q"',
    'q"q',
    '{a}',
    '[a]',
    'a,b',
    'a, b',
    'line\nbreak',
    'tab\there',
    'trailing ',
    ' leading',
    'ü',
    'sh -c "x $Y"',
    'rate(x{a="b"}[1m]) > 0.9',
    '0 3 * * *',
    'https://x.example/-/healthz',
    'v1.0.0',
    '1.0',
    'key:',
  ];
  const value = {
    strings: tricky,
    map: Object.fromEntries(tricky.filter((s) => s !== '').map((s, i) => [s, i])),
    nested: [{ a: [1, { b: [] }], c: {} }, [], {}, null, true, 0, -1.5],
    number: 1e-7,
  };
  assert.deepEqual(parse(yamlOf(value)), JSON.parse(JSON.stringify(value)));
  assert.deepEqual(parse(toYaml({ b: 1, a: 'x' })), { a: 'x', b: 1 });
  assert.equal(yamlOf({ b: 1, a: { d: 'x', c: ['z'] } }), 'a:\n  c:\n    - z\n  d: x\nb: 1\n');
});
