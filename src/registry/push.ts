// pushImage: an image (or index) built with the images API, straight into a registry. The streaming
// layers go into PATCHes as they are produced: nothing is staged on disk or held whole in memory.
import type { Image, ImageIndex } from '../image/image.js';
import type { Reference } from '../image/reference.js';
import { writeImage, type WriteProgress, type WriteResult } from '../image/write.js';
import { ErrInvalidOption, optionKeys, refuseUnknownOptions } from '../core/errors.js';
import { DESTINATION_OPTION_KEYS, RegistryDestination, type RegistryDestinationOptions } from './destination.js';

export interface PushImageOptions extends RegistryDestinationOptions {
  /**
   * More tags, written with the target's own: a bare tag (`latest`, `v1.2.3`) or a name in the
   * target's repository (`host/team/app:latest`). A name in another repository, or with a digest, is
   * ErrTagRepository, thrown before anything is written (a push goes to one repository).
   */
  names?: readonly string[];
  /** writeImage's events (blob written or skipped, manifest, commit); per-byte events are `onProgress`. */
  onWrite?: (event: WriteProgress) => void;
}

const PUSH_KEYS: ReadonlySet<string> = new Set([
  ...DESTINATION_OPTION_KEYS,
  ...optionKeys<Omit<PushImageOptions, keyof RegistryDestinationOptions>>({ names: true, onWrite: true }),
]);

/**
 * Pushes `image` to `reference` (`registry/repo:tag`, or `@sha256:...` to pin the result): blobs, then
 * configs and manifests by digest, then the tag(s) last, so a failed or aborted push (`signal`) leaves
 * no tag pointing at a half-pushed image. Layers already in the repository are not uploaded again.
 * The result's `names` are the fully qualified names tagged: the target's, then `names`.
 */
export async function pushImage(image: Image | ImageIndex, reference: string | Reference, options: PushImageOptions = {}): Promise<WriteResult> {
  // `tags` and other misspellings fail here: an ignored option would push something else than asked.
  refuseUnknownOptions(options, PUSH_KEYS, 'pushImage()');
  if (options.names !== undefined && (!Array.isArray(options.names) || !options.names.every((n) => typeof n === 'string'))) {
    throw new ErrInvalidOption('names', 'an array of image names', options.names);
  }
  if (options.onWrite !== undefined && typeof options.onWrite !== 'function') throw new ErrInvalidOption('onWrite', 'a function', options.onWrite);
  const { names, onWrite, ...destinationOptions } = options;
  const destination = new RegistryDestination(reference, destinationOptions);
  // The destination resolves the names (its own tag first) before writing anything.
  return writeImage(image, destination, {
    names: names ?? [],
    ...(options.signal ? { signal: options.signal } : {}),
    ...(onWrite ? { onProgress: onWrite } : {}),
  });
}
