import { spawnSync } from 'node:child_process';

/** Debian's Chromium, which the browser tests (igv.js, the console) drive through playwright-core. */
export const CHROMIUM = '/usr/bin/chromium';

/** Flags of a headless run with nothing reaching out to the network. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** The reason a browser test cannot run here, or false (guard tests check they run in CI). */
export function skipChromium(): string | false {
  if (spawnSync(CHROMIUM, ['--version']).status !== 0) return 'Debian chromium is not installed';
  return false;
}

/** Debian's Chromium, headless, through playwright-core. */
export async function launchChromium(): Promise<import('playwright-core').Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/**
 * A console tab signed in with `key` (the form filled and submitted as a user does), at `hash` of the console on
 * `serverUrl`; `errors` collects the page's uncaught errors.
 */
export async function signedInTab(
  browser: import('playwright-core').Browser,
  serverUrl: string,
  key: { accessKeyId: string; secretAccessKey: string },
  hash = '',
): Promise<{ tab: import('playwright-core').Page; errors: string[] }> {
  const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  tab.on('pageerror', (e) => errors.push(String(e)));
  await tab.goto(`${serverUrl}/console/${hash}`);
  await tab.getByLabel('Access key ID').fill(key.accessKeyId);
  await tab.getByLabel('Secret access key').fill(key.secretAccessKey);
  await tab.getByRole('button', { name: 'Sign in' }).click();
  await tab.getByRole('button', { name: 'Sign out' }).waitFor();
  return { tab, errors };
}
