/** The work behind `msp generate` (loaded only when the command runs). */
import { resolve } from 'node:path';
import { isMspError } from '@msp/core';
import { formatDiagnostic, loadPlatformRepo } from '@msp/spec';
import {
  checkGenerated,
  generate,
  readGenerated,
  recoveryCluster,
  selectModels,
  toYaml,
  TARGETS,
  writeGenerated,
  type TargetName,
} from '@msp/generate';
import { CliError, printJson } from '../cli-support.js';
import { defaultRepo } from '../repo-default.js';
import type { GenerateCliOptions } from './generate.js';

export async function runGenerate(
  service: string | undefined,
  env: string | undefined,
  opts: GenerateCliOptions,
): Promise<void> {
  const repoDir = resolve(opts.repo ?? defaultRepo());
  const { repo, diagnostics } = await loadPlatformRepo(repoDir);
  if (!repo)
    throw new CliError(
      `the platform repo ${repoDir} is not valid:\n${diagnostics.map((d) => formatDiagnostic(d)).join('\n')}`,
      2,
    );
  if (opts.target !== undefined && !(TARGETS as readonly string[]).includes(opts.target))
    throw new CliError(`--target must be one of ${TARGETS.join(', ')}, not \`${opts.target}\``, 2);
  const used = TARGETS.filter((t) => repo.platform.environments.some((e) => e.runtime === t));
  const targets = opts.target !== undefined ? [opts.target as TargetName] : used;
  const root = resolve(opts.out ?? resolve(repoDir, 'generated'));

  if (opts.restoreTo !== undefined) {
    if (service === undefined || env === undefined)
      throw new CliError(
        '--restore-to needs the deployment: msp generate <service> <env> --restore-to <time>',
        2,
      );
    const [m] = selectModels(repo, { target: 'kubernetes', service, env });
    if (!m)
      throw new CliError(
        `${service} ${env} does not run on kubernetes: its environment's runtime is not kubernetes`,
        2,
      );
    process.stdout.write(toYaml(recoveryCluster(m, opts.restoreTo)));
    return;
  }
  if (targets.length === 0) {
    const message =
      'no environment of msp.yaml runs on kubernetes or gcp: set `runtime: kubernetes` (or gcp) for one, or pass --target';
    if (opts.json) printJson({ targets: [], files: 0, message });
    else process.stdout.write(`${message}\n`);
    return;
  }

  // Everything is generated before anything is written: a deployment a target cannot express stops the run.
  const results = targets.map((target) => {
    try {
      return { target, result: generate(repo, { target, service, env, readExisting: readGenerated(root) }) };
    } catch (error) {
      if (isMspError(error)) throw new CliError(error.message, 2);
      throw error;
    }
  });
  const report = [];
  let stale = 0;
  for (const { target, result } of results) {
    const diff = opts.check ? await checkGenerated(root, result) : await writeGenerated(root, result);
    stale += diff.changed.length + diff.missing.length + diff.extra.length;
    report.push({ target, deployments: result.deployments, files: result.files.length, ...diff });
  }
  if (opts.json) printJson({ root, check: opts.check === true, targets: report });
  else {
    for (const r of report) {
      const lines = [
        ...r.missing.map((p) => `  ${opts.check ? 'missing' : 'created'}  ${p}`),
        ...r.changed.map((p) => `  ${opts.check ? 'stale  ' : 'updated'}  ${p}`),
        ...r.extra.map((p) => `  ${opts.check ? 'extra  ' : 'removed'}  ${p}`),
      ];
      process.stdout.write(
        `${r.target}: ${r.deployments.length} deployment${r.deployments.length === 1 ? '' : 's'}, ${r.files} files in ${root}/${r.target}` +
          (lines.length === 0 ? ', all up to date\n' : `\n${lines.join('\n')}\n`),
      );
    }
  }
  if (opts.check && stale > 0) {
    process.stderr.write(
      `msp: ${stale} generated file${stale === 1 ? ' is' : 's are'} stale: run \`msp generate\` and commit the result\n`,
    );
    process.exitCode = 1;
  }
}
