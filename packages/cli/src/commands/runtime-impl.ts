/** Implementations of the control plane commands; imported only when one of them runs. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { classifyError, parseDuration } from '@msp/core';
import { CliError, printJson } from '../cli-support.js';
import { call, connect, segment } from '../client.js';
import { resolveKey } from '../deployment-key.js';
import { defaultRepo } from '../repo-default.js';
import type {
  LogsOptions,
  OperationsListOptions,
  PgConnectOptions,
  ServerOptions,
  UpOptions,
} from './runtime.js';

function parsePort(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new CliError(`${flag} must be a port number (1–65535), not '${value}'.`, 2);
  return n;
}

function duration(value: string, flag: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new CliError(`${flag}: ${(error as Error).message}`, 2);
  }
}

function resolveRepo(repo: string | undefined): string {
  if (repo) {
    const dir = resolve(repo);
    if (!existsSync(join(dir, 'msp.yaml'))) {
      throw new CliError(
        `${dir} is not a platform repo: it has no msp.yaml. Create one, or point --repo at a platform repo.`,
        2,
      );
    }
    return dir;
  }
  return defaultRepo();
}

function alreadyRunning(repo: string): { url: string; pid: number } | undefined {
  try {
    const ep = JSON.parse(readFileSync(join(repo, '.msp', 'control-plane.json'), 'utf8')) as {
      url: string;
      pid: number;
    };
    process.kill(ep.pid, 0);
    return ep;
  } catch {
    return undefined;
  }
}

async function validateOrExit(repo: string): Promise<void> {
  const { loadPlatformRepo, formatDiagnostic } = await import('@msp/spec');
  const { diagnostics } = await loadPlatformRepo(repo);
  if (diagnostics.length > 0) {
    for (const d of diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
    throw new CliError(
      `${repo}: ${diagnostics.length} error(s) in the platform repo; fix them and run again.`,
      2,
    );
  }
}

interface StatusDeployment {
  key: string;
  kind: string;
  desiredState: string;
  status: string;
  statusDetail: string | null;
  release: string | null;
  restarts: number;
  runtime: {
    instances: Array<{ id: string; state: string; pid?: number; port?: number; restarts: number }>;
    urls: string[];
    database?: { port: number; databases: string[]; running: boolean };
    pendingRequests: number;
  } | null;
}

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function statusTable(deployments: StatusDeployment[]): string {
  const rows = [['DEPLOYMENT', 'STATUS', 'RELEASE', 'INSTANCES', 'RESTARTS', 'URL', 'DATABASE']];
  for (const d of deployments) {
    const rt = d.runtime;
    const healthy = rt?.instances.filter((i) => i.state === 'healthy').length ?? 0;
    rows.push([
      d.key,
      d.desiredState === 'running' ? d.status : `${d.status} (${d.desiredState})`,
      d.release ?? '-',
      rt ? `${healthy}/${rt.instances.length}` : '-',
      String(d.restarts),
      rt?.urls[0] ?? '-',
      rt?.database
        ? `${rt.database.databases.join(',')} :${rt.database.port}${rt.database.running ? '' : ' (down)'}`
        : '-',
    ]);
  }
  return pad(rows);
}

async function runControlPlane(options: {
  repo: string;
  host?: string;
  port: number;
  proxyPort: number;
  databaseUrl?: string;
  waitMs?: number;
}): Promise<void> {
  const running = alreadyRunning(options.repo);
  if (running) {
    throw new CliError(
      `A control plane already runs for ${options.repo} (pid ${running.pid}, ${running.url}). Stop it first.`,
    );
  }
  const { startControlPlane, createLocalRuntime, defaultModules } = await import('@msp/control-plane');
  console.log(`msp: platform repo ${options.repo}`);
  const { notRunHere, remoteTargets } = await import('./up-targets.js');
  for (const line of await notRunHere(options.repo)) console.log(line);
  const cp = await startControlPlane({
    repoDir: options.repo,
    port: options.port,
    ...(options.host ? { host: options.host } : {}),
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    modules: defaultModules(),
    targets: {
      local: (deps) =>
        createLocalRuntime({ ...deps, proxyPort: options.proxyPort, log: (l) => console.log(l) }),
      ...(await remoteTargets()),
    },
    log: (line) => console.log(line),
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      // A second Ctrl-C: quit now, as after a kill -9; the next `msp up` stops what is left and resumes.
      if (signal !== 'SIGINT') return;
      console.log('msp: SIGINT again: quitting now; the next `msp up` stops what is left and resumes it');
      process.exit(130);
    }
    stopping = true;
    console.log(
      `msp: ${signal}: stopping every deployment and the control plane… (Ctrl-C again to quit at once)`,
    );
    cp.stop().then(
      () => {
        console.log('msp: stopped');
        process.exit(0);
      },
      (error: unknown) => {
        console.error(`msp: stop failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  console.log(`msp: control plane API ${cp.url}/api/v1 (admin token in ${cp.dataDir.adminToken})`);
  console.log(`msp: proxy ${cp.runtime.proxyUrl() ?? '(none)'}`);
  console.log(`msp: dashboard ${cp.url}/ (sign in with the admin token)`);

  if (options.waitMs) {
    const deadline = Date.now() + options.waitMs;
    const seen = new Map<string, string>();
    for (;;) {
      // Ctrl-C ends the wait; a state database that is down for a moment (restarted by itself) does not.
      const listed = await cp.store.listDeployments().catch((error: unknown) => {
        if (stopping || classifyError(error).retryable) return undefined;
        throw error;
      });
      if (stopping) return;
      if (!listed) {
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      // What the platform repo declares; restore clones come back by themselves and are not waited for.
      const deployments = listed.filter((d) => d.desiredState === 'running' && d.managedBy !== 'clone');
      for (const d of deployments) {
        const line = `${d.status}${d.statusDetail ? `: ${d.statusDetail}` : ''}`;
        if (seen.get(d.key) !== line) {
          seen.set(d.key, line);
          console.log(`msp: ${d.key}: ${line}`);
        }
      }
      // Deployments handed over to kubernetes or gcp (status generated or stale) run elsewhere.
      const elsewhere = (d: { status: string }) => d.status === 'generated' || d.status === 'stale';
      const settled =
        deployments.length > 0 &&
        deployments.every((d) => d.status === 'healthy' || d.status === 'failed' || elsewhere(d));
      if (settled || Date.now() > deadline) {
        const rows = deployments.map((d) => ({ ...d, runtime: cp.runtime.status(d.key) ?? null }));
        console.log('\n' + statusTable(rows) + '\n');
        const bad = deployments.filter((d) => d.status !== 'healthy' && !elsewhere(d));
        const here = deployments.filter((d) => !elsewhere(d)).length;
        const handed = deployments.length - here;
        console.log(
          bad.length === 0
            ? `msp: all ${here} deployments healthy${handed > 0 ? ` here; ${handed} more handed over to kubernetes or gcp` : ''}. Ctrl-C stops everything.`
            : `msp: ${bad.length} deployment(s) not healthy: ${bad.map((d) => d.key).join(', ')}; see \`msp operations list\` and \`msp logs\`.`,
        );
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export async function up(opts: UpOptions): Promise<void> {
  const repo = resolveRepo(opts.repo);
  const port = parsePort(opts.port, '--port');
  const proxyPort = parsePort(opts.proxyPort, '--proxy-port');
  const waitMs = duration(opts.timeout, '--timeout');
  await validateOrExit(repo);
  await runControlPlane({ repo, port, proxyPort, waitMs });
}

export async function server(opts: ServerOptions): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    throw new CliError(
      'msp server needs DATABASE_URL (a PostgreSQL connection string for the state database).',
      2,
    );
  }
  const repo = resolveRepo(opts.repo);
  await validateOrExit(repo);
  await runControlPlane({
    repo,
    host: opts.host,
    port: parsePort(opts.port, '--port'),
    proxyPort: parsePort(opts.proxyPort, '--proxy-port'),
    databaseUrl,
  });
}

export async function status(opts: { repo?: string; json?: boolean }): Promise<void> {
  const client = connect(opts);
  const result = await call(client.api.status.$get());
  if (opts.json) return printJson(result);
  if (result.repo && !result.repo.valid) {
    // Not a failure of this command (exit 0): the deployments below keep their last good spec.
    console.log(
      `The platform repo does not validate (${result.repo.diagnostics.length} error(s)); nothing in it is applied until it does:\n  ` +
        result.repo.diagnostics.join('\n  ') +
        '\nThe deployments keep running with their last good spec. Fix them (`msp spec validate` checks) and save: the control plane picks the change up.\n',
    );
  }
  console.log(statusTable(result.deployments));
  if (result.proxyUrl) console.log(`\nproxy: ${result.proxyUrl}`);
}

export async function logs(target: string, env: string | undefined, opts: LogsOptions): Promise<void> {
  // A duration back from now (10m) or a point in time (RFC 3339), as the API takes it.
  if (opts.since && !(/^\d{4}-/.test(opts.since) && !Number.isNaN(Date.parse(opts.since)))) {
    try {
      parseDuration(opts.since);
    } catch {
      throw new CliError(
        `--since takes a duration back from now (e.g. 10m, 2h) or an RFC 3339 time (e.g. 2026-11-22T10:00:00Z), not '${opts.since}'.`,
        2,
      );
    }
  }
  const client = connect(opts);
  const key = await resolveKey(client, target, env);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  const query = new URLSearchParams();
  if (opts.since) query.set('since', opts.since);
  if (opts.follow) query.set('follow', '1');
  // A stream of NDJSON lines rather than one JSON body: read raw.
  const res = await client.send('GET', `/logs/${segment(key)}?${query.toString()}`, { signal: abort.signal });
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const raw = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!raw) continue;
        if (opts.json) {
          process.stdout.write(raw + '\n');
        } else {
          const l = JSON.parse(raw) as { at: string; stream: string; instance: string; line: string };
          process.stdout.write(`${l.at} ${l.instance} ${l.stream === 'err' ? 'ERR ' : ''}${l.line}\n`);
        }
      }
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  }
}

export async function pgConnect(
  target: string,
  env: string | undefined,
  opts: PgConnectOptions,
): Promise<void> {
  const timeoutMs = duration(opts.sessionTimeout, '--session-timeout');
  // Credentials always expire: a duration that would round to nothing is refused, not taken as "no limit".
  if (!(timeoutMs >= 1000) || timeoutMs > 86_400_000) {
    throw new CliError(
      `--session-timeout ${opts.sessionTimeout}: give a duration from 1s to 24h (credentials always expire), e.g. 300s or 1h.`,
      2,
    );
  }
  const client = connect(opts);
  const key = await resolveKey(client, target, env);
  const access = await call(
    client.api.pg.connect.$post({
      json: {
        deployment: key,
        access: opts.writeAccess ? 'write' : 'read',
        sessionTimeoutSeconds: Math.ceil(timeoutMs / 1000),
      },
    }),
  );
  const urls = access.databases.map(
    (db) =>
      `postgresql://${encodeURIComponent(access.user)}:${encodeURIComponent(access.password)}@${access.host}:${access.port}/${db}`,
  );
  // In a restricted environment the credential ends with the access grant, maybe before --session-timeout.
  const cut = access.validUntil && Date.parse(access.validUntil) < Date.now() + timeoutMs - 5000;
  const until = `valid until ${access.validUntil}${cut ? ' (the end of your access grant)' : ''}`;
  if (opts.json) return printJson({ ...access, urls });
  const hasPsql = spawnSync('psql', ['--version'], { stdio: 'ignore' }).status === 0;
  if (opts.print || !hasPsql) {
    if (!opts.print) console.error('msp: psql is not installed; printing the connection strings instead.');
    console.error(`msp: ${opts.writeAccess ? 'WRITE' : 'read-only'} credentials for ${key}, ${until}`);
    for (const url of urls) console.log(url);
    return;
  }
  console.error(`msp: connecting to ${key} (${opts.writeAccess ? 'WRITE access' : 'read-only'}), ${until}`);
  const child = spawn(
    'psql',
    ['-h', access.host, '-p', String(access.port), '-U', access.user, access.databases[0] ?? 'postgres'],
    {
      stdio: 'inherit',
      env: { ...process.env, PGPASSWORD: access.password },
    },
  );
  const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
  if (code !== 0) throw new CliError('', 1);
}

export async function operationsList(opts: OperationsListOptions): Promise<void> {
  const client = connect(opts);
  const { operations } = await call(
    client.api.operations.$get({
      query: { limit: opts.limit, ...(opts.deployment ? { deployment: opts.deployment } : {}) },
    }),
  );
  if (opts.json) return printJson(operations);
  const rows = [['ID', 'KIND', 'DEPLOYMENT', 'STATUS', 'CREATED', 'BY', 'REASON']];
  for (const o of operations) {
    rows.push([
      o.id,
      o.kind,
      o.deploymentKey,
      o.status,
      o.createdAt,
      o.createdBy,
      o.error ? `${o.reason}; ${o.error}` : o.reason,
    ]);
  }
  console.log(pad(rows));
}

export async function operationsShow(id: string, opts: { repo?: string; json?: boolean }): Promise<void> {
  const client = connect(opts);
  const op = await call(client.api.operations[':id'].$get({ param: { id: segment(id) } }));
  if (opts.json) return printJson(op);
  console.log(`operation ${op.id}: ${op.kind} ${op.deploymentKey}: ${op.status}`);
  console.log(`reason: ${op.reason}; by ${op.createdBy} at ${op.createdAt}; attempt ${op.attempt}`);
  if (op.error) console.log(`error: ${op.error}`);
  console.log('\nsteps:');
  for (const s of op.steps)
    console.log(`  ${s.status.padEnd(9)} ${s.name}${s.detail ? `: ${s.detail}` : ''}`);
  console.log('\nlog:');
  for (const l of op.log ?? []) console.log(`  ${l.at} ${l.level.padEnd(5)} ${l.message}`);
}
