import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where `npm ci` builds the addon `name` (binding.gyp's target, from native/). */
export const addonPath = (name: string) => fileURLToPath(new URL(`../../../build/Release/${name}.node`, import.meta.url));

const status = new Map<string, string>();

/** What became of each addon asked for: `loaded`, `not built`, `off` (a switch chose the JS path) or `failed: <why>`. */
export function addonStatus(): Record<string, string> {
  return Object.fromEntries(status);
}

/** Records that a switch turned the addon off (its JS path is used). */
export function addonOff(name: string, why: string): undefined {
  status.set(name, `off (${why})`);
  return undefined;
}

/** The addon, or undefined when it was not built (its Debian -dev packages were missing) or does not load (a stale or foreign build). */
export function loadAddon<T>(name: string): T | undefined {
  const path = addonPath(name);
  if (!existsSync(path)) {
    status.set(name, 'not built');
    return undefined;
  }
  try {
    const addon = createRequire(import.meta.url)(path) as T;
    status.set(name, 'loaded');
    return addon;
  } catch (e) {
    status.set(name, `failed: ${(e as Error).message.split('\n')[0]}`);
    return undefined;
  }
}
