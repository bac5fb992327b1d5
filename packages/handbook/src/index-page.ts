/** The handbook's index: every service with its owners and environments, then the managed instances. */
import type { PlatformRepo } from '@msp/spec';
import { mspLink, supportSentence } from './links.js';
import { anchor, cell, code, document, link, table } from './markdown.js';
import { generatedNotice, instanceTable, type PageContext } from './service-page.js';

export function indexPage(ctx: PageContext, repo: PlatformRepo): string {
  const services = table(
    ['SERVICE', 'ID', 'OWNERS', 'ENVIRONMENTS', 'DESCRIPTION'],
    repo.services.map(({ spec }) => {
      const page = `./${spec.service.id}.md`;
      return [
        link(spec.service.name, page),
        code(spec.service.id),
        spec.service.owners.map((o) => `**${cell(o)}**`).join(', '),
        spec.environments.map((e) => link(e.id, `${page}#${anchor(e.id)}`)).join(', '),
        cell(spec.service.description.split('\n')[0] ?? ''),
      ];
    }),
  );
  const environments = table(
    ['ENVIRONMENT', 'CATEGORY', 'RUNTIME', 'ACCESS', 'MANAGED INSTANCES'],
    repo.platform.environments.map((e) => [
      code(e.id),
      `**${e.category}**`,
      code(e.runtime),
      e.access.restricted ? `restricted (grants up to ${e.access.maxGrantDuration})` : 'not restricted',
      String(repo.instances.filter((i) => i.environment === e.id).length),
    ]),
  );
  const instanceSections = repo.platform.environments.flatMap((e) => {
    const instances = repo.instances.filter((i) => i.environment === e.id);
    return instances.length === 0 ? [] : [`### ${e.id}`, instanceTable(instances, true)];
  });
  return document([
    `# ${repo.platform.organization.name} operations handbook`,
    generatedNotice(ctx),
    `This handbook describes the services and managed instances of ${repo.platform.organization.name}, operated on the ${mspLink(ctx)}. Each service has its own page.`,
    supportSentence(ctx),
    '## Services',
    services,
    '## Environments',
    environments,
    '## Managed instances',
    instanceSections.length > 0 ? instanceSections.join('\n\n') : 'No managed instances are declared.',
  ]);
}
