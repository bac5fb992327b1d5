/** `msp init <service-id>`: writes a service spec that validates as it is, and its README. */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { CliError } from '../cli-support.js';

export async function runInit(serviceId: string, options: { repo: string; owner?: string }): Promise<void> {
  const spec = await import('@msp/spec');
  const problem = spec.serviceIdProblem(serviceId);
  if (problem) throw new CliError(`${problem}; choose another id`, 2);

  // A service belongs in a platform repo: without msp.yaml this is not one (init does not create one).
  const text = await readFile(join(options.repo, 'msp.yaml'), 'utf8').catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        throw new CliError(
          `${resolve(options.repo)} is not a platform repo: it has no msp.yaml. Run \`msp init\` at the root of a platform repo, or point --repo at one.`,
          2,
        );
      }
      throw error;
    },
  );

  const dir = join(options.repo, 'services', serviceId);
  if (await exists(dir)) {
    throw new CliError(
      `service \`${serviceId}\` already exists (${dir}); choose another id or edit its service.yaml`,
      2,
    );
  }

  // Use the repo's environments (msp.yaml order) when msp.yaml is readable and valid enough.
  const { parse } = await import('yaml');
  const parsed = spec.platformConfigSchema.safeParse(safeYaml(parse, text));
  const environments = parsed.success
    ? parsed.data.environments.map((e) => ({ id: e.id, category: e.category }))
    : undefined;
  const supportTeam = parsed.success ? parsed.data.links.support?.team : undefined;
  const owner =
    options.owner ?? (supportTeam ? supportTeam.toLowerCase().replace(/[^a-z0-9-]+/g, '-') : 'platform');
  const files = spec.scaffoldService({ id: serviceId, owner, ...(environments ? { environments } : {}) });

  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'service.yaml'), files.serviceYaml, { flag: 'wx' });
  await writeFile(join(dir, 'README.md'), files.readme, { flag: 'wx' });
  const shown = relative(process.cwd(), dir) || '.';
  process.stdout.write(
    `created ${join(shown, 'service.yaml')} and ${join(shown, 'README.md')}\n` +
      `next: describe the service, set build.local, then run \`msp spec validate --repo ${options.repo}\`\n`,
  );
}

function safeYaml(parse: (text: string) => unknown, text: string): unknown {
  try {
    return parse(text);
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
