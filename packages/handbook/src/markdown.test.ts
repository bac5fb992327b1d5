import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anchor, cell, code, codeBlock, displayWidth, table } from './markdown.js';

void test('tables pad every column to its widest cell, as prettier does', () => {
  assert.equal(
    table(
      ['A', 'LONGER'],
      [
        ['xyz', '1'],
        ['', 'two'],
      ],
    ),
    ['| A   | LONGER |', '| --- | ------ |', '| xyz | 1      |', '|     | two    |'].join('\n'),
  );
  assert.throws(() => table(['A', 'B'], [['only one']]), /expected 2/);
});

void test('wide characters count twice and pipes are escaped', () => {
  assert.equal(displayWidth('✅'), 2);
  assert.equal(displayWidth('日本'), 4);
  assert.equal(cell('a|b\nc'), 'a\\|b c');
});

void test('code spans and blocks survive backticks', () => {
  assert.equal(code('a`b'), '``a`b``');
  assert.equal(codeBlock('md', 'x\n```\ny'), '````md\nx\n```\ny\n````');
});

void test('anchors follow the GitHub heading rules', () => {
  assert.equal(anchor('prod PostgreSQL instance'), 'prod-postgresql-instance');
  assert.equal(anchor('Database - Connections'), 'database---connections');
});
