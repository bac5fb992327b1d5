/**
 * Every link a generated page carries comes from msp.yaml (`links`, `notifications.chatUrl`), or is
 * relative inside the generated docs. No company's URLs are baked in.
 */
import { join, relative, resolve, sep } from 'node:path';
import type { PlatformConfig } from '@msp/spec';
import { link } from './markdown.js';

export interface LinkContext {
  readonly platform: PlatformConfig;
  /** Absolute path of the platform repo. */
  readonly root: string;
  /** Folder the pages are written to, relative to the repo root (e.g. `docs`); for relative links into the repo. */
  readonly docsDir: string;
}

/** A link to a file of the platform repo: on the repository's web UI when msp.yaml names it, else relative. */
export function repoFileUrl(ctx: LinkContext, repoPath: string): string {
  const { repository, repositoryBlobPath } = ctx.platform.links;
  if (repository !== undefined) {
    const blob = repositoryBlobPath.replace(/^\/*/, '/').replace(/\/+$/, '');
    return `${repository.replace(/\/+$/, '')}${blob}/${repoPath}`;
  }
  return relative(resolve(ctx.root, ctx.docsDir), join(ctx.root, repoPath)).split(sep).join('/');
}

/** A chat channel, linked when msp.yaml gives a `chatUrl` template with `{channel}`. */
export function channelLink(ctx: LinkContext, channel: string): string {
  const template = ctx.platform.notifications.chatUrl;
  if (template === undefined) return channel;
  const name = encodeURIComponent(channel.replace(/^#/, ''));
  return link(channel, template.replaceAll('{channel}', name));
}

/** "operated on MSP", linked to the platform docs when msp.yaml names them. */
export function mspLink(ctx: LinkContext): string {
  const docs = ctx.platform.links.platformDocs;
  return docs === undefined
    ? 'Managed Services Platform (MSP)'
    : link('Managed Services Platform (MSP)', docs);
}

/** Where to ask for help, when msp.yaml names a support team. */
export function supportSentence(ctx: LinkContext): string | undefined {
  const support = ctx.platform.links.support;
  if (support === undefined) return undefined;
  return `If you need assistance with MSP infrastructure, reach out to the ${support.team} team${
    support.channel === undefined ? '' : ` in ${channelLink(ctx, support.channel)}`
  }.`;
}

/** A source repository given as `host/owner/name` or a URL, as a browsable URL. */
export function sourceRepoUrl(repo: string): string {
  return /^[a-z]+:\/\//i.test(repo) ? repo : `https://${repo}`;
}
