// Loads the native addon (local build or prebuild) through node-gyp-build.
// Minimal version; the packaging work hardens it (warnings, FASTLAYER_ENGINE, fallback reasons).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface NativePipeline {
  update(chunk: Uint8Array): Promise<Buffer>;
  finish(): Promise<{ out: Buffer; digest: Buffer; diffID: Buffer; size: number }>;
  destroy(): void;
}

export interface NativeAddon {
  Pipeline: new (level: number, mode: number) => NativePipeline;
  info: {
    format: number;
    blockSize: number;
    isal: string;
    zlib: string;
    sha256: string;
    fingerprint: string;
  };
}

/** The package root: the nearest folder above this file that holds package.json and binding.gyp. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'binding.gyp')) && existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('fastlayer: cannot find the package root');
    dir = up;
  }
}

let cached: { addon?: NativeAddon; error?: Error } | undefined;

/** Returns the addon, or the reason it could not be loaded. */
export function loadNative(): { addon?: NativeAddon; error?: Error } {
  if (cached) return cached;
  try {
    const require = createRequire(import.meta.url);
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    cached = { addon: load(packageRoot()) };
  } catch (err) {
    cached = { error: err as Error };
  }
  return cached;
}
