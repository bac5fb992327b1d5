/**
 * For the dashboard's browser tests: Debian's chromium, installed with apt-get when missing and the test
 * runs as root; undefined (the test skips, saying why) when it is missing and cannot be installed.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

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
