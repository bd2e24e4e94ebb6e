// A pulled image as the base of a new Image: its config (fetched and verified by pull) is inherited,
// its layers stay known blobs that name their repository (so a push to the same registry mounts them)
// and stream from the registry only if a destination needs their bytes.
import type { ConfigJSON } from '../image/config.js';
import { ErrBaseImage } from '../image/errors.js';
import { ErrDigestMismatch } from '../core/errors.js';
import type { BaseImage } from '../image/image.js';
import { parseJSON } from '../image/json.js';
import { basePlatform } from '../image/platform.js';
import type { KnownBlob, Platform } from '../image/types.js';
import { DIGEST_PATTERN as DIGEST } from '../core/hash.js';
import { isUncompressedLayer } from '../core/media-types.js';


export interface PulledParts {
  /** The reference, for messages. */
  readonly source: string;
  /** The config's bytes, verified against its descriptor; undefined when it is not an image config. */
  readonly configBytes: Buffer | undefined;
  /** Why there are no config bytes. */
  readonly configProblem?: string | undefined;
  readonly layers: readonly KnownBlob[];
  /** The platform the index entry of the image lists, when it was chosen from an index. */
  readonly listed?: Platform | undefined;
}

export function pulledBase(parts: PulledParts): BaseImage {
  const { source } = parts;
  if (parts.configBytes === undefined) throw new ErrBaseImage(`${source}: ${parts.configProblem ?? 'no image config'}, so it cannot be a base`);
  let config: ConfigJSON;
  try {
    const v = parseJSON(parts.configBytes);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    config = v as ConfigJSON;
  } catch (err) {
    throw new ErrBaseImage(`${source}: config is not valid JSON: ${(err as Error).message}`, err);
  }
  const ids = (config.rootfs as { diff_ids?: unknown } | undefined)?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && DIGEST.test(d))) throw new ErrBaseImage(`${source}: config has no valid rootfs.diff_ids`);
  if (ids.length !== parts.layers.length) throw new ErrBaseImage(`${source}: ${parts.layers.length} layers but ${ids.length} diff_ids`);
  // The whole platform (os.version and os.features too): the new image's config and index entry say it.
  const platform = basePlatform(config, source, parts.listed);
  const layers = parts.layers.map((l, i): KnownBlob => {
    const diffID = ids[i] as string;
    // An uncompressed layer's digest is its diff_id; one that says otherwise cannot be both.
    if (isUncompressedLayer(l.descriptor.mediaType) && l.descriptor.digest !== diffID) {
      throw new ErrDigestMismatch(`diff_id ${diffID}`, `layer digest ${l.descriptor.digest}`, `${source}: uncompressed layer ${i}`);
    }
    return { kind: 'known', descriptor: l.descriptor, diffID, ...(l.origin ? { origin: l.origin } : {}), open: () => l.open() };
  });
  return { config, platform, source, layers: () => layers };
}
