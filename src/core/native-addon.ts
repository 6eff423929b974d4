import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where `npm ci` builds the addon `name` (binding.gyp's target, from native/). */
export const addonPath = (name: string) => fileURLToPath(new URL(`../../../build/Release/${name}.node`, import.meta.url));

/** The addon, or undefined when it was not built (its Debian -dev packages were missing) or does not load (a stale or foreign build). */
export function loadAddon<T>(name: string): T | undefined {
  const path = addonPath(name);
  if (!existsSync(path)) return undefined;
  try {
    return createRequire(import.meta.url)(path) as T;
  } catch {
    return undefined;
  }
}
