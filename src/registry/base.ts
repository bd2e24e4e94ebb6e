// A registry image as a base (`loadBase('reg/app:1')`, `--base docker://...`): the manifest (the
// platform's, from an index) and the config are fetched and verified now; the layers are known blobs
// fetched only when a destination needs their bytes, so a push to the same registry HEADs or mounts
// them and never downloads one.
import type { BaseImage } from '../image/image.js';
import { checkBasePlatform, parsePlatform } from '../image/platform.js';
import type { Reference } from '../image/reference.js';
import type { Platform } from '../image/types.js';
import type { RegistryOptions } from './client.js';
import { pull } from './pull.js';

export interface RegistryBaseOptions {
  /** Which image of a multi-platform index (default linux/amd64, as for local bases: never the host's). */
  platform?: string | Platform;
  /** Transport, credentials (for this registry only), timeouts, signal. */
  registry?: RegistryOptions;
}

export async function registryBase(ref: string | Reference, options: RegistryBaseOptions = {}): Promise<BaseImage> {
  const want = parsePlatform(options.platform ?? 'linux/amd64');
  const pulled = await pull(ref, { ...options.registry, platform: want });
  const base = pulled.asBase();
  // A single-platform base asked for another platform would give an image whose config lies.
  if (options.platform !== undefined) checkBasePlatform(base.platform, want, base.source);
  return base;
}
