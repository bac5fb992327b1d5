import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { tempDir, waitUntil } from '../process/test-support.js';
import { createLogWriter, instanceLogPath } from './log-writer.js';
import { parseLogLine, readLogs, type LogLine } from './log-reader.js';

const dir = tempDir('logs');
after(() => dir.remove());

async function collect(iterable: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const line of iterable) out.push(line);
  return out;
}

void test('lines get a timestamp and stream; partial lines wait for their newline; secrets are redacted', () => {
  const file = instanceLogPath(dir.path, 'svc/dev', 'svc/dev#1');
  assert.equal(file, `${dir.path}/svc/dev/svc_dev_1.log`);
  let t = Date.parse('2030-01-01T00:00:00.000Z');
  const writer = createLogWriter({ file, now: () => t, redact: ['hunter2-secret'] });
  writer.write('out', 'hello ');
  writer.write('out', Buffer.from('world\r\nsecond'));
  t += 1000;
  writer.write('err', 'password is hunter2-secret\n');
  writer.close(); // flushes the partial "second"
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  assert.deepEqual(lines, [
    '2030-01-01T00:00:00.000Z out hello world',
    '2030-01-01T00:00:01.000Z err password is [redacted]',
    '2030-01-01T00:00:01.000Z out second',
  ]);
  assert.deepEqual(parseLogLine(lines[1] ?? '', 'i'), {
    time: new Date('2030-01-01T00:00:01.000Z'),
    stream: 'err',
    instance: 'i',
    text: 'password is [redacted]',
  });
  assert.equal(parseLogLine('garbage', 'i'), undefined);
});

void test('rotation by size keeps maxFiles files, and readLogs reads them oldest first, filtered by since', async () => {
  const file = instanceLogPath(dir.path, 'rot/dev', 'rot/dev#1');
  let t = Date.parse('2030-01-01T00:00:00.000Z');
  const writer = createLogWriter({ file, now: () => t, maxBytes: 1000, maxFiles: 3 });
  for (let i = 0; i < 100; i++) {
    t += 1000;
    writer.line('out', `line ${i} ${'.'.repeat(20)}`);
    if (i % 10 === 9) writer.flush();
  }
  writer.close();
  assert.ok(existsSync(`${file}.1`) && existsSync(`${file}.2`));
  assert.equal(existsSync(`${file}.3`), false);
  for (const f of [file, `${file}.1`, `${file}.2`]) assert.ok(statSync(f).size <= 1000, f);

  const all = await collect(readLogs({ logDir: dir.path, deployment: 'rot/dev' }));
  const numbers = all.map((l) => Number(l.text.split(' ')[1]));
  // The newest lines survive, in order, ending with the last one.
  assert.equal(numbers.at(-1), 99);
  assert.deepEqual(
    numbers,
    [...numbers].sort((a, b) => a - b),
  );
  assert.ok(numbers.length >= 40 && numbers.length < 100);
  assert.ok(all.every((l) => l.instance === 'rot_dev_1' && l.stream === 'out'));

  const since = new Date(Date.parse('2030-01-01T00:00:00.000Z') + 95_000);
  const recent = await collect(readLogs({ logDir: dir.path, deployment: 'rot/dev', since }));
  assert.deepEqual(
    recent.map((l) => l.text.split(' ')[1]),
    ['94', '95', '96', '97', '98', '99'],
  );
});

void test('readLogs merges instances by time, and follow tails new lines across rotation until aborted', async () => {
  const a = createLogWriter({ file: instanceLogPath(dir.path, 'tail/dev', 'tail/dev#1'), maxBytes: 300 });
  const b = createLogWriter({ file: instanceLogPath(dir.path, 'tail/dev', 'tail/dev#2'), maxBytes: 300 });
  a.line('out', 'a-0');
  a.flush();
  b.line('out', 'b-0');
  b.flush();
  const controller = new AbortController();
  const seen: string[] = [];
  const reading = (async () => {
    for await (const line of readLogs({
      logDir: dir.path,
      deployment: 'tail/dev',
      follow: true,
      signal: controller.signal,
      pollMs: 20,
    })) {
      seen.push(line.text);
    }
  })();
  await waitUntil('existing lines', () => seen.length === 2);
  assert.deepEqual(seen, ['a-0', 'b-0']);
  // Enough lines to rotate a's file several times between two polls, plus a partial line written in two parts.
  for (let i = 1; i <= 30; i++) {
    a.line('out', `a-${i}`);
    if (i % 3 === 0) a.flush();
    if (i % 15 === 0) await waitUntil(`a-${i} seen`, () => seen.includes(`a-${i}`));
  }
  b.write('err', 'b-par');
  b.flush();
  b.write('err', 'tial\n');
  b.flush();
  const c = createLogWriter({ file: instanceLogPath(dir.path, 'tail/dev', 'tail/dev#3') });
  c.line('out', 'c-0');
  c.flush();
  await waitUntil(
    'all new lines',
    () => seen.includes('a-30') && seen.includes('b-partial') && seen.includes('c-0'),
  );
  controller.abort();
  await reading;
  const aLines = seen.filter((s) => s.startsWith('a-')).map((s) => Number(s.slice(2)));
  assert.deepEqual(
    aLines,
    Array.from({ length: 31 }, (_, i) => i),
  );
  assert.equal(seen.includes('b-par'), false);
  for (const w of [a, b, c]) w.close();
});
