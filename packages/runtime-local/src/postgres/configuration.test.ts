import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  confString,
  needsRestart,
  parseConf,
  renderHba,
  renderIdent,
  renderServerConf,
  serverSettings,
  shellQuote,
  withMspInclude,
  type ServerConfigInput,
} from './configuration.js';

const input: ServerConfigInput = {
  name: 'shop--dev',
  port: 54321,
  archiveDir: "/srv/msp/archive/it's 100%",
  runDir: '/srv/msp/clusters/shop--dev/run',
  nodePath: '/usr/bin/node',
  archiveScript: '/opt/msp/dist/postgres/archive-wal.js',
};

void describe('server configuration (msp.conf)', () => {
  void it('listens on loopback only, archives every WAL file, and applies the defaults', () => {
    const conf = parseConf(renderServerConf(input.name, serverSettings(input)));
    assert.equal(conf.get('listen_addresses'), "'127.0.0.1'");
    assert.equal(conf.get('port'), '54321');
    assert.equal(conf.get('max_connections'), '100');
    assert.equal(conf.get('archive_mode'), 'on');
    assert.equal(conf.get('wal_level'), 'replica');
    assert.equal(conf.get('archive_timeout'), '60');
    assert.equal(conf.get('fsync'), 'on');
    assert.equal(conf.get('password_encryption'), 'scram-sha-256');
    assert.equal(conf.get('unix_socket_directories'), `'${input.runDir}'`);
  });

  void it('quotes the archive command for the shell and escapes % for PostgreSQL', () => {
    const conf = parseConf(renderServerConf(input.name, serverSettings(input)));
    const command = conf.get('archive_command') ?? assert.fail('no archive_command');
    // A conf string: single quotes doubled; inside, a shell command with %p %f and a quoted directory.
    assert.equal(
      command,
      confString(
        `'/usr/bin/node' '/opt/msp/dist/postgres/archive-wal.js' %p %f '/srv/msp/archive/it'\\''s 100%%'`,
      ),
    );
  });

  void it('leaves the socket off when its path would not fit sun_path', () => {
    const long = { ...input, runDir: `/${'x'.repeat(100)}/run` };
    const conf = parseConf(renderServerConf(long.name, serverSettings(long)));
    assert.equal(conf.get('unix_socket_directories'), "''");
  });

  void it('takes maxConnections, archiveTimeoutSeconds and fsync from the options', () => {
    const settings = serverSettings({
      ...input,
      maxConnections: 60,
      archiveTimeoutSeconds: 30,
      fsync: false,
    });
    const conf = new Map(settings.map(([k, v]) => [k, String(v)]));
    assert.equal(conf.get('max_connections'), '60');
    assert.equal(conf.get('archive_timeout'), '30');
    assert.equal(conf.get('fsync'), 'off');
  });

  void it('restarts only for settings read at server start', () => {
    const before = parseConf(renderServerConf(input.name, serverSettings(input)));
    assert.equal(needsRestart(before, serverSettings(input)), false);
    assert.equal(needsRestart(before, serverSettings({ ...input, archiveTimeoutSeconds: 30 })), false);
    assert.equal(needsRestart(before, serverSettings({ ...input, maxConnections: 60 })), true);
    assert.equal(needsRestart(before, serverSettings({ ...input, port: 54322 })), true);
    assert.equal(needsRestart(new Map(), serverSettings(input)), true, 'a first msp.conf');
  });
});

void describe('authentication files', () => {
  void it('pg_hba admits TCP from loopback with SCRAM only (replication for the admin), and the socket only for the admin by peer', () => {
    const hba = renderHba();
    const rules = hba.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(rules, [
      'local all msp_admin peer map=msp',
      'host all all 127.0.0.1/32 scram-sha-256',
      'host replication msp_admin 127.0.0.1/32 scram-sha-256',
    ]);
    assert.doesNotMatch(hba, /\btrust\b|\bmd5\b|0\.0\.0\.0/);
  });

  void it('pg_ident maps the PostgreSQL OS user to the admin role', () => {
    assert.match(renderIdent('msp-postgres'), /^msp msp-postgres msp_admin$/m);
  });
});

void describe('postgresql.conf include', () => {
  void it('appends the include once, last', () => {
    const once = withMspInclude('shared_buffers = 128MB\n');
    assert.match(once, /shared_buffers = 128MB\n\n# MSP settings.*\ninclude_if_exists = 'msp.conf'\n$/);
    assert.equal(withMspInclude(once), once);
  });
});

void describe('quoting', () => {
  void it('escapes quotes and backslashes', () => {
    assert.equal(confString("a'b\\c"), "'a''b\\\\c'");
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
  });
});
