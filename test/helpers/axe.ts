import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeResult {
  violations: { id: string; impact?: string; help: string; nodes: { target: unknown[] }[] }[];
}

/**
 * What axe-core (Deque's accessibility engine) finds on the page against WCAG 2.1 A and AA: the serious and critical
 * violations, one line each (rule, help, elements). igv.js's own drawing (`.igv`, a third-party widget) is left out.
 */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the console's content security policy (no inline scripts) does not apply.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  const r = (await page.evaluate(() =>
    (window as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<unknown> } }).axe.run(
      { exclude: [['.igv']] },
      { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] },
    ),
  )) as AxeResult;
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.help}): ${v.nodes.map((n) => JSON.stringify(n.target)).join(' ')}`);
}

/** A page the console tests reach: its screenshot (`<shots>/<name>.png`), and no serious accessibility violation on it. */
export async function recordPage(page: Page, shots: string, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage });
  const found = await accessibilityViolations(page);
  if (found.length) throw new Error(`accessibility violations on the ${name} page:\n${found.join('\n')}`);
}
