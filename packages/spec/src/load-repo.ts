/**
 * Loads a platform repo: msp.yaml, services/<id>/service.yaml (+ README.md) and
 * environments/<env>/deployments/<id>/config.yaml. Validates every file and the references between them,
 * and reports every problem of every file at once, sorted by file, line and column.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { INSTANCE_ID_MAX, SLUG_PATTERN, serviceIdProblem } from './common.js';
import type { Diagnostic } from './diagnostic.js';
import { sortDiagnostics } from './diagnostic.js';
import type { InstanceConfig } from './instance-schema.js';
import { instanceFileSchema } from './instance-schema.js';
import type { PlatformConfig } from './platform-schema.js';
import { platformConfigSchema } from './platform-schema.js';
import type { ServiceSpec } from './service-schema.js';
import { serviceSpecSchema } from './service-schema.js';
import { checkServiceRules } from './service-rules.js';
import type { PathSegment, YamlSource } from './yaml-source.js';
import { diagnosticAt, parseYaml, positionOf } from './yaml-source.js';
import { validateWith } from './zod-issues.js';

export interface LoadedService {
  spec: ServiceSpec;
  /** Absolute path of services/<id>/. */
  dir: string;
  /** Repo-relative path of the service.yaml. */
  specFile: string;
  /** The README.md beside the spec, if any. */
  readme?: string;
}

export interface PlatformRepo {
  /** Absolute path. */
  root: string;
  platform: PlatformConfig;
  /** Sorted by id. */
  services: LoadedService[];
  /** Sorted by environment, then id. */
  instances: InstanceConfig[];
}

export interface LoadResult {
  /** Present only when there is no diagnostic. */
  repo?: PlatformRepo;
  diagnostics: Diagnostic[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Thrown for a file or folder that exists but cannot be read; becomes a diagnostic. */
class Unreadable extends Error {}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new Unreadable(`cannot read ${path} (${code ?? String(error)}); check its permissions`);
  }
}

async function subdirs(path: string): Promise<string[]> {
  try {
    const entries = await readdir(path, { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new Unreadable(`cannot read the folder ${path} (${code ?? String(error)}); check its permissions`);
  }
}

/** Validates one service spec's text on its own (schema and in-file rules), e.g. for `msp init`. */
export function validateServiceText(
  file: string,
  text: string,
): { spec?: ServiceSpec; source?: YamlSource; diagnostics: Diagnostic[] } {
  const parsed = parseYaml(file, text);
  if (!parsed.source) return { diagnostics: parsed.diagnostics };
  const source = parsed.source;
  const { value, diagnostics } = validateWith(source, serviceSpecSchema);
  for (const issue of checkServiceRules(source.data)) {
    diagnostics.push(diagnosticAt(source, issue.path, issue.message, issue.target));
  }
  if (diagnostics.length === 0) return { spec: value, source, diagnostics };
  return { source, diagnostics: sortDiagnostics(diagnostics) };
}

interface ServiceFile {
  folder: string;
  file: string;
  source?: YamlSource;
  spec?: ServiceSpec;
  readme?: string;
}

interface InstanceFileEntry {
  id: string;
  environment: string;
  file: string;
  source?: YamlSource;
  value?: Omit<InstanceConfig, 'id' | 'environment' | 'file' | 'domain'> & { domain?: string };
}

interface DomainUse {
  domain: string;
  file: string;
  line: number;
  column: number;
  path: PathSegment[];
  source: YamlSource;
  defaulted: boolean;
  what: string;
}

/** The default domain of an instance: <customer>.<env>.<baseDomain> in test environments, else <customer>.<baseDomain>. */
export function defaultInstanceDomain(
  customer: string,
  environment: string,
  envCategory: string | undefined,
  baseDomain: string,
): string {
  return envCategory === 'test' ? `${customer}.${environment}.${baseDomain}` : `${customer}.${baseDomain}`;
}

export async function loadPlatformRepo(dir: string): Promise<LoadResult> {
  try {
    return await loadRepo(resolve(dir));
  } catch (error) {
    if (error instanceof Unreadable)
      return { diagnostics: [{ file: '.', line: 1, column: 1, path: '', message: error.message }] };
    throw error;
  }
}

async function loadRepo(root: string): Promise<LoadResult> {
  const diagnostics: Diagnostic[] = [];
  const whole = (file: string, message: string): Diagnostic => ({
    file,
    line: 1,
    column: 1,
    path: '',
    message,
  });

  try {
    const s = await stat(root);
    if (!s.isDirectory()) {
      return {
        diagnostics: [whole('.', `${root} is not a directory; pass --repo with the folder holding msp.yaml`)],
      };
    }
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    return {
      diagnostics: [
        whole(
          '.',
          `cannot read the platform repo ${root} (${reason}); pass --repo with the folder holding msp.yaml`,
        ),
      ],
    };
  }

  // msp.yaml
  let platformSource: YamlSource | undefined;
  let platform: PlatformConfig | undefined;
  const platformText = await readText(join(root, 'msp.yaml'));
  if (platformText === undefined) {
    diagnostics.push(
      whole(
        'msp.yaml',
        `missing msp.yaml in ${root}: create it with organization, baseDomain and environments (see docs/spec-reference.md)`,
      ),
    );
  } else {
    const parsed = parseYaml('msp.yaml', platformText);
    diagnostics.push(...parsed.diagnostics);
    if (parsed.source) {
      platformSource = parsed.source;
      const r = validateWith(parsed.source, platformConfigSchema);
      diagnostics.push(...r.diagnostics);
      platform = r.value;
      // Environment ids are unique.
      const seen = new Set<string>();
      const envs =
        isObj(parsed.source.data) && Array.isArray(parsed.source.data.environments)
          ? parsed.source.data.environments
          : [];
      envs.forEach((e: unknown, i) => {
        const id = isObj(e) ? str(e.id) : undefined;
        if (id === undefined) return;
        if (seen.has(id))
          diagnostics.push(
            diagnosticAt(parsed.source, ['environments', i, 'id'], `duplicate environment id \`${id}\``),
          );
        seen.add(id);
      });
    }
  }
  // What the cross-file checks know of the environments, even when msp.yaml has other mistakes.
  const envCategories = new Map<string, string | undefined>();
  const rawPlatform = platformSource && isObj(platformSource.data) ? platformSource.data : undefined;
  if (rawPlatform && Array.isArray(rawPlatform.environments)) {
    for (const e of rawPlatform.environments as unknown[]) {
      if (isObj(e) && typeof e.id === 'string' && !envCategories.has(e.id))
        envCategories.set(e.id, str(e.category));
    }
  }
  const knownEnvs = platformSource ? envCategories : undefined; // undefined: cannot check
  const baseDomain = rawPlatform ? str(rawPlatform.baseDomain) : undefined;
  const declared = () => [...envCategories.keys()].join(', ') || 'none';

  // services/<id>/service.yaml
  const serviceFiles: ServiceFile[] = await Promise.all(
    (await subdirs(join(root, 'services'))).map(async (folder): Promise<ServiceFile> => {
      const file = `services/${folder}/service.yaml`;
      const text = await readText(join(root, file));
      if (text === undefined) {
        diagnostics.push(
          whole(
            file,
            `services/${folder}/ has no service.yaml; create it (\`msp init ${folder}\`) or remove the folder`,
          ),
        );
        return { folder, file };
      }
      const r = validateServiceText(file, text);
      diagnostics.push(...r.diagnostics);
      const readme = await readText(join(root, 'services', folder, 'README.md'));
      const entry: ServiceFile = { folder, file };
      if (r.source) entry.source = r.source;
      if (r.spec) entry.spec = r.spec;
      if (readme !== undefined) entry.readme = readme;
      return entry;
    }),
  );

  // environments/<env>/deployments/<id>/config.yaml
  const instanceFiles: InstanceFileEntry[] = [];
  for (const environment of await subdirs(join(root, 'environments'))) {
    for (const id of await subdirs(join(root, 'environments', environment, 'deployments'))) {
      const file = `environments/${environment}/deployments/${id}/config.yaml`;
      const entry: InstanceFileEntry = { id, environment, file };
      instanceFiles.push(entry);
      if (!SLUG_PATTERN.test(id) || id.length > INSTANCE_ID_MAX) {
        diagnostics.push(
          whole(
            file,
            `instance folder \`${id}\` must start with a lowercase letter, use only a-z, 0-9 and -, and have at most ${INSTANCE_ID_MAX} characters; rename the folder`,
          ),
        );
      }
      if (knownEnvs && !knownEnvs.has(environment)) {
        diagnostics.push(
          whole(
            file,
            `environment \`${environment}\` (folder environments/${environment}) is not declared in msp.yaml (declared: ${declared()})`,
          ),
        );
      }
      const text = await readText(join(root, file));
      if (text === undefined) {
        diagnostics.push(
          whole(
            file,
            `environments/${environment}/deployments/${id}/ has no config.yaml; create it or remove the folder`,
          ),
        );
        continue;
      }
      const parsed = parseYaml(file, text);
      diagnostics.push(...parsed.diagnostics);
      if (!parsed.source) continue;
      entry.source = parsed.source;
      const r = validateWith(parsed.source, instanceFileSchema);
      diagnostics.push(...r.diagnostics);
      if (r.value) entry.value = r.value;
    }
  }

  // Services: folder name, environments declared in msp.yaml.
  const rawServices = new Map<string, { envs: Map<string, unknown> }>();
  const domains: DomainUse[] = [];
  for (const sf of serviceFiles) {
    const src = sf.source;
    if (!src || !isObj(src.data)) continue;
    const data = src.data;
    const id = isObj(data.service) ? str(data.service.id) : undefined;
    if (id !== undefined && id !== sf.folder && serviceIdProblem(id) === undefined) {
      diagnostics.push(
        diagnosticAt(
          src,
          ['service', 'id'],
          `service id \`${id}\` must equal its folder name \`${sf.folder}\`; rename one of them`,
        ),
      );
    }
    const envs = new Map<string, unknown>();
    (Array.isArray(data.environments) ? (data.environments as unknown[]) : []).forEach((env, i) => {
      if (!isObj(env)) return;
      const envId = str(env.id);
      if (envId !== undefined) {
        envs.set(envId, env);
        if (knownEnvs && !knownEnvs.has(envId)) {
          diagnostics.push(
            diagnosticAt(
              src,
              ['environments', i, 'id'],
              `environment \`${envId}\` is not declared in msp.yaml (declared: ${declared()})`,
            ),
          );
        }
      }
      const domain = str(env.domain);
      if (domain !== undefined) {
        domains.push({
          domain,
          file: src.file,
          ...positionOf(src, ['environments', i, 'domain']),
          path: ['environments', i, 'domain'],
          source: src,
          defaulted: false,
          what: `service ${id ?? sf.folder}, environment ${envId ?? `#${i}`}`,
        });
      }
    });
    rawServices.set(sf.folder, { envs });
  }

  // Instances: service exists and declares the environment; ttl; domains.
  for (const inst of instanceFiles) {
    const src = inst.source;
    if (!src || !isObj(src.data)) continue;
    const data = src.data;
    const serviceId = str(data.service);
    if (serviceId !== undefined) {
      const svc = rawServices.get(serviceId);
      if (!svc) {
        const known = [...rawServices.keys()].join(', ') || 'none';
        diagnostics.push(
          diagnosticAt(
            src,
            ['service'],
            `service \`${serviceId}\` does not exist in services/ (services: ${known})`,
          ),
        );
      } else if (!svc.envs.has(inst.environment)) {
        diagnostics.push(
          diagnosticAt(
            src,
            ['service'],
            `service \`${serviceId}\` does not declare environment \`${inst.environment}\`; add it to services/${serviceId}/service.yaml`,
          ),
        );
      }
    }
    if (knownEnvs?.has(inst.environment)) {
      const category = knownEnvs.get(inst.environment);
      if (category === 'test' && data.ttl === undefined)
        diagnostics.push(
          diagnosticAt(
            src,
            ['ttl'],
            `\`ttl\` is required in environment \`${inst.environment}\` (category test), e.g. \`ttl: 72h\``,
          ),
        );
      if (category !== undefined && category !== 'test' && data.ttl !== undefined)
        diagnostics.push(
          diagnosticAt(
            src,
            ['ttl'],
            `\`ttl\` is only for test environments; \`${inst.environment}\` is category ${category}`,
            'key',
          ),
        );
    }
    const explicit = str(data.domain);
    const customer = str(data.customer);
    const domain =
      explicit ??
      (customer !== undefined && baseDomain !== undefined
        ? defaultInstanceDomain(customer, inst.environment, knownEnvs?.get(inst.environment), baseDomain)
        : undefined);
    if (domain !== undefined) {
      domains.push({
        domain,
        file: src.file,
        ...positionOf(src, ['domain']),
        path: ['domain'],
        source: src,
        defaulted: explicit === undefined,
        what: `instance ${inst.environment}/${inst.id}`,
      });
    }
    if (inst.value && domain !== undefined) inst.value.domain = domain;
  }

  // A domain is used once, anywhere. Who keeps it: service environments first, then instances that name it,
  // then instances that would get it by default; within each, by file and position.
  const rank = (u: DomainUse) => (u.defaulted ? 2 : u.file.startsWith('services/') ? 0 : 1);
  domains.sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line ||
      a.column - b.column,
  );
  const owners = new Map<string, DomainUse>();
  for (const use of domains) {
    const first = owners.get(use.domain);
    if (!first) {
      owners.set(use.domain, use);
      continue;
    }
    const how = use.defaulted ? ' (the default for this instance; set `domain` to another name)' : '';
    diagnostics.push(
      diagnosticAt(
        use.source,
        use.path,
        `domain \`${use.domain}\`${how} is already used by ${first.what} (${first.file}:${first.line}:${first.column})`,
      ),
    );
  }

  const sorted = sortDiagnostics(diagnostics);
  if (sorted.length > 0 || !platform) return { diagnostics: sorted };

  const services: LoadedService[] = [];
  for (const sf of serviceFiles) {
    if (!sf.spec) return { diagnostics: sorted };
    const loaded: LoadedService = {
      spec: sf.spec,
      dir: join(root, 'services', sf.folder),
      specFile: sf.file,
    };
    if (sf.readme !== undefined) loaded.readme = sf.readme;
    services.push(loaded);
  }
  services.sort((a, b) => (a.spec.service.id < b.spec.service.id ? -1 : 1));
  const instances: InstanceConfig[] = [];
  for (const inst of instanceFiles) {
    if (!inst.value || inst.value.domain === undefined) return { diagnostics: sorted };
    instances.push({
      ...inst.value,
      domain: inst.value.domain,
      id: inst.id,
      environment: inst.environment,
      file: inst.file,
    });
  }
  instances.sort((a, b) =>
    a.environment !== b.environment
      ? a.environment < b.environment
        ? -1
        : 1
      : a.id < b.id
        ? -1
        : a.id > b.id
          ? 1
          : 0,
  );
  return { repo: { root, platform, services, instances }, diagnostics: [] };
}
