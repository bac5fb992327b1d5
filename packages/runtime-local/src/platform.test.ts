import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PreconditionFailedError } from '@msp/core';
import { currentPlatform, platformFor, type PlatformIo } from './platform.js';
import { isProcessAlive, processGroupMembers, readProcStat } from './process/pid-files.js';

const later = <T>(f: () => T): Promise<T> => Promise.resolve().then(f);

/** A fake machine: files, links and command outputs; every command run is recorded. */
function fakeIo(o: {
  uid?: number;
  files?: Record<string, string>;
  links?: Record<string, string>;
  commands?: Record<string, string>;
}): PlatformIo & { ran: string[] } {
  const ran: string[] = [];
  const missing = (what: string): Error => Object.assign(new Error(`${what}: ENOENT`), { code: 'ENOENT' });
  const command = (name: string, args: string[]): string => {
    const line = [name, ...args].join(' ');
    ran.push(line);
    const out = o.commands?.[line];
    if (out === undefined) throw new Error(`${line}: exit status 1`);
    return out;
  };
  const file = (path: string): string => {
    const text = o.files?.[path];
    if (text === undefined) throw missing(path);
    return text;
  };
  return {
    ran,
    uid: () => o.uid ?? 1000,
    readdir: (path) =>
      later(() => {
        const names = Object.keys(o.files ?? {})
          .filter((p) => p.startsWith(`${path}/`))
          .map((p) => p.slice(path.length + 1).split('/')[0]!);
        // 45 is listed but gone before its stat is read (it exited in between).
        return [...new Set(names), '45', 'self', 'cpuinfo'];
      }),
    readFile: (path) => later(() => file(path)),
    readlink: (path) =>
      later(() => {
        const target = o.links?.[path];
        if (target === undefined) throw missing(path);
        return target;
      }),
    run: (name, args) => later(() => command(name, args)),
  };
}

const stat = (pid: number, comm: string, state: string, pgrp: number, start: number): string =>
  `${pid} (${comm}) ${state} 1 ${pgrp} ${pgrp} 0 -1 4194560 ${'0 '.repeat(12)}${start} 1000 200\n`;

void describe('platform: Linux', () => {
  const io = fakeIo({
    uid: 0,
    files: {
      '/proc/41/stat': stat(41, 'node server.js', 'S', 41, 9001),
      '/proc/42/stat': stat(42, 'sh) (evil', 'Z', 41, 9002),
      '/proc/43/stat': stat(43, 'other', 'R', 43, 9003),
      '/proc/41/cmdline': 'node\0server.js\0',
    },
    links: { '/proc/41/cwd': '/srv/data' },
    commands: {
      'getent passwd msp-postgres': 'msp-postgres:x:998:997::/home/msp-postgres:/usr/sbin/nologin\n',
    },
  });
  const linux = platformFor('linux', io);

  void it('reads state, process group and start time from /proc/<pid>/stat, even with ) in the name', async () => {
    assert.equal(linux.runsAsRoot(), true);
    assert.equal(linux.maxSocketPath, 107);
    assert.deepEqual(await linux.processFacts(41), { pid: 41, state: 'S', pgrp: 41, startTime: '9001' });
    assert.deepEqual(await linux.processFacts(42), { pid: 42, state: 'Z', pgrp: 41, startTime: '9002' });
    assert.equal(await linux.processFacts(44), undefined);
  });

  void it('lists every process asynchronously, leaving out one that exits between listing and reading', async () => {
    const all = linux.allProcesses();
    assert.ok(all instanceof Promise);
    assert.deepEqual(
      (await all).map((p) => p.pid),
      [41, 42, 43],
    );
  });

  void it('reads the working directory and command line from /proc', async () => {
    assert.equal(await linux.processCwd(41), '/srv/data');
    assert.equal(await linux.processCwd(43), undefined);
    assert.equal(await linux.processCommand(41), 'node server.js');
    assert.equal(await linux.processCommand(43), undefined);
  });

  void it('reads CPU time and resident memory from /proc/<pid>/stat, leaving gone processes out', async () => {
    const usage = await linux.processUsage([41, 44]);
    assert.deepEqual([...usage.keys()], [41]);
    assert.deepEqual(usage.get(41), { cpuSeconds: 0, rssBytes: 200 * 4096 });
  });

  void it('looks users up with getent and creates them with useradd, naming the command when it fails', async () => {
    assert.deepEqual(await linux.lookupUser('msp-postgres'), { uid: 998, gid: 997 });
    assert.equal(await linux.lookupUser('msp-service'), undefined);
    await assert.rejects(
      linux.createSystemUser('msp-service', 'Services do not run as root'),
      (error: unknown) =>
        error instanceof PreconditionFailedError &&
        error.message.includes('useradd --system --no-create-home --shell /usr/sbin/nologin msp-service'),
    );
    assert.ok(io.ran.includes('useradd --system --no-create-home --shell /usr/sbin/nologin msp-service'));
  });
});

void describe('platform: macOS', () => {
  const columns = '-o pid=,pgid=,stat=,lstart=';
  const io = fakeIo({
    commands: {
      [`ps ${columns} -p 812`]: '  812   812 Ss   Tue Dec  1 23:31:46 2026\n',
      [`ps -A ${columns}`]:
        '    1     1 Ss   Mon Nov 30 08:00:01 2026\n  812   812 Ss   Tue Dec  1 23:31:46 2026\n' +
        '  813   812 Z    Tue Dec  1 23:31:47 2026\n',
      'lsof -a -p 812 -d cwd -Fn': 'p812\nfcwd\nn/Users/me/.msp/postgres\n',
      'ps -ww -o command= -p 812': '/opt/msp/native/bin/postgres -D /Users/me/.msp/postgres\n',
      'id -u _mspservice': '401\n',
      'id -g _mspservice': '401\n',
    },
  });
  const mac = platformFor('darwin', io);

  void it('asks ps for state, process group and start time, and finds a group among all processes', async () => {
    assert.equal(mac.runsAsRoot(), false);
    assert.equal(mac.maxSocketPath, 103); // sun_path is 104 bytes on macOS, 108 on Linux
    assert.deepEqual(await mac.processFacts(812), {
      pid: 812,
      pgrp: 812,
      state: 'S',
      startTime: 'Tue Dec  1 23:31:46 2026',
    });
    assert.equal(await mac.processFacts(999), undefined); // ps exits 1
    const group = (await mac.allProcesses()).filter((p) => p.pgrp === 812);
    assert.deepEqual(
      group.map((p) => [p.pid, p.state]),
      [
        [812, 'S'],
        [813, 'Z'],
      ],
    );
  });

  void it('runs ps without blocking: the answer comes later, through the asynchronous runner', async () => {
    const slow = fakeIo({
      commands: { [`ps -A ${columns}`]: '  812   812 Ss   Tue Dec  1 23:31:46 2026\n' },
    });
    const facts = platformFor('darwin', slow).allProcesses();
    assert.deepEqual(slow.ran, [], 'nothing ran synchronously');
    assert.deepEqual(
      (await facts).map((p) => p.pid),
      [812],
    );
    assert.deepEqual(slow.ran, [`ps -A ${columns}`]);
    // ps missing or failing: no processes, no error.
    assert.deepEqual(await platformFor('darwin', fakeIo({})).allProcesses(), []);
  });

  void it('asks lsof for the working directory and ps for the command line', async () => {
    assert.equal(await mac.processCwd(812), '/Users/me/.msp/postgres');
    assert.equal(await mac.processCwd(999), undefined);
    assert.match((await mac.processCommand(812)) ?? '', /bin\/postgres -D/);
    assert.equal(await mac.processCommand(999), undefined);
  });

  void it('looks users up with id, and refuses to create one, saying to run MSP as your own user', async () => {
    assert.deepEqual(await mac.lookupUser('_mspservice'), { uid: 401, gid: 401 });
    assert.equal(await mac.lookupUser('msp-postgres'), undefined);
    await assert.rejects(
      mac.createSystemUser('msp-postgres', 'PostgreSQL cannot run as root'),
      (error: unknown) =>
        error instanceof PreconditionFailedError &&
        /run MSP as your own user/.test(error.message) &&
        error.message.includes('msp-postgres'),
    );
    assert.ok(!io.ran.some((line) => /useradd|dscl|sysadminctl/.test(line)), 'creates no user');
  });
});

void describe('platform: others', () => {
  void it('refuses Windows in one line naming WSL 2', async () => {
    const windows = platformFor('win32', fakeIo({}));
    for (const attempt of [windows.processFacts(1), windows.allProcesses()]) {
      await assert.rejects(
        attempt,
        (error: unknown) =>
          error instanceof PreconditionFailedError && /not on win32.*WSL 2/.test(error.message),
      );
    }
  });

  void it('on this machine, finds this process alive, in its own group, with a start time', async () => {
    assert.equal(currentPlatform().os, process.platform);
    const me = await readProcStat(process.pid);
    assert.ok(me && me.startTime !== '' && me.pgrp > 0);
    assert.equal(await isProcessAlive(process.pid), true);
    assert.ok((await processGroupMembers(me.pgrp)).includes(process.pid));
    assert.equal(await isProcessAlive(2 ** 22 + 1), false); // above Linux's pid_max and macOS's
  });
});
