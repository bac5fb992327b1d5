/**
 * For the dashboard's browser tests: Debian's chromium, installed with apt-get when missing and the test
 * runs as root; undefined (the test skips, saying why) when it is missing and cannot be installed. Also what
 * the browser test files share: screenshots at both widths, signing in, the API with a token.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BrowserContext, Page } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export async function findChromium(log: (line: string) => void): Promise<string | { skip: string }> {
  const env = process.env.MSP_CHROMIUM;
  if (env && existsSync(env)) return env;
  const found = CANDIDATES.find((p) => existsSync(p));
  if (found) return found;
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    return {
      skip: 'chromium is not installed (apt-get install -y chromium, as root): browser tests skipped',
    };
  }
  log('dashboard tests: installing chromium with apt-get (once)');
  const run = (args: string[]) =>
    promisify(execFile)('apt-get', args, { timeout: 900_000, maxBuffer: 64 * 1024 * 1024 });
  const install = ['install', '-y', '-o', 'DPkg::Lock::Timeout=600', 'chromium'];
  try {
    await run(install).catch(async () => {
      await run(['update']);
      await run(install);
    });
  } catch (error) {
    const why = (error as Error).message.split('\n')[0];
    return { skip: `apt-get could not install chromium (${why}): browser tests skipped` };
  }
  return (
    CANDIDATES.find((p) => existsSync(p)) ?? { skip: 'apt-get installed no chromium: browser tests skipped' }
  );
}

/** Saves the page at 1280 px (`<name>-desktop.png`) and at phone width (`<name>-phone.png`) into `dir`. */
export async function shoot(p: Page, dir: string | undefined, name: string): Promise<void> {
  if (!dir) return;
  await mkdir(dir, { recursive: true });
  for (const [width, suffix] of [
    [1280, 'desktop'],
    [390, 'phone'],
  ] as const) {
    await p.setViewportSize({ width, height: width === 1280 ? 800 : 844 });
    await p.waitForTimeout(300);
    await p.screenshot({ path: join(dir, `${name}-${suffix}.png`), fullPage: true });
  }
  await p.setViewportSize({ width: 1280, height: 800 });
}

/** Signs in with `token` on the sign-in page (reached from `/`) in a new page of `ctx`. */
export async function signIn(ctx: BrowserContext, url: string, token: string): Promise<Page> {
  const p = await ctx.newPage();
  await p.goto(`${url}/`);
  await p.waitForURL(/\/ui\/sign-in$/);
  await p.getByLabel('Token').fill(token);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.waitForURL(`${url}/`);
  return p;
}

/** GET (no body) or POST (a body) on /api/v1 with `token`; the answer's JSON, or undefined. */
export function apiAs(cp: { url: string }, token: string) {
  return async (path: string, body?: unknown) => {
    const res = await fetch(`${cp.url}/api/v1${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return {
      status: res.status,
      body: (await res.json().catch(() => undefined)) as Record<string, unknown>,
    };
  };
}
