import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMainThread, workerData } from 'node:worker_threads';

/** Where `npm ci` builds the addon `name` (binding.gyp's target, from native/). */
export const addonPath = (name: string) => fileURLToPath(new URL(`../../../build/Release/${name}.node`, import.meta.url));

/**
 * Which implementation each native code path uses: the addon (when built) or its JS fallback. Set once at start
 * from the typed configuration (`config.native`, app.ts); worker threads receive the main thread's choices in
 * their workerData (core/worker-pool.ts, formats/render-pool.ts). Addons load on first use, so a choice made at
 * start applies whatever was imported before it.
 */
export interface NativeChoices {
  /** BGZF blocks: libdeflate (the addon) or node:zlib. */
  inflate: 'libdeflate' | 'zlib';
  /** SAM text and the CRAM scan: htslib's sam_format1 (the addon) or the JS renderer and scanner. */
  samRenderer: 'htslib' | 'js';
  /** Opening sealed blob chunks: OpenSSL (the addon) or node:crypto. */
  crypto: 'openssl' | 'node';
  /** Inflate BGZF on worker threads (false: on the calling thread). */
  inflateThreads: boolean;
}

export const DEFAULT_NATIVE_CHOICES: NativeChoices = { inflate: 'libdeflate', samRenderer: 'htslib', crypto: 'openssl', inflateThreads: true };

const inherited = isMainThread ? undefined : (workerData as { native?: NativeChoices } | null)?.native;
let choices: NativeChoices = inherited ?? DEFAULT_NATIVE_CHOICES;

/** Sets the choices (at start, before the first use of any addon; a later change does not reload one). */
export function chooseNative(c: Partial<NativeChoices>): void {
  choices = { ...choices, ...c };
}

/** The choices in force, to hand to worker threads. */
export const nativeChoices = (): NativeChoices => choices;

const status = new Map<string, string>();
const resolvers = new Map<string, () => unknown>();

/**
 * The addon `name`, loaded on first call: undefined when `offWhen` names a choice that turns it off, when it was
 * not built, or when it does not load.
 */
export function lazyAddon<T>(name: string, offWhen: (c: NativeChoices) => string | undefined): () => T | undefined {
  let resolved = false;
  let addon: T | undefined;
  const get = () => {
    if (!resolved) {
      const off = offWhen(choices);
      addon = off ? addonOff(name, off) : loadAddon<T>(name);
      resolved = true;
    }
    return addon;
  };
  resolvers.set(name, get);
  return get;
}

/** What became of each addon asked for: `loaded`, `not built`, `off` (a switch chose the JS path) or `failed: <why>`. */
export function addonStatus(): Record<string, string> {
  for (const resolve of resolvers.values()) resolve();
  return Object.fromEntries(status);
}

/** Records that a switch turned the addon off (its JS path is used). */
function addonOff(name: string, why: string): undefined {
  status.set(name, `off (${why})`);
  return undefined;
}

/** The addon, or undefined when it was not built (its Debian -dev packages were missing) or does not load (a stale or foreign build). */
export function loadAddon<T>(name: string, dir?: string): T | undefined {
  const path = dir === undefined ? addonPath(name) : `${dir}/${name}.node`;
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
