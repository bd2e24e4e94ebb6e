// Pushing an OCI layout that already exists, as a directory or as a tar archive holding one (written by
// fastlayer, skopeo, umoci, `docker save`...): its ImageSource (src/layout/source.ts) written by
// writeImage, so uploads are HEAD-checked, skipped, retried and verified as every other push's.
import type { Reference } from '../image/reference.js';
import type { Descriptor } from '../image/types.js';
import { writeImage } from '../image/write.js';
import { optionKeys, refuseUnknownOptions } from '../core/errors.js';
import { DESTINATION_OPTION_KEYS, RegistryDestination, type RegistryDestinationOptions } from './destination.js';
import { archiveStore, directoryStore, type LayoutStore } from '../layout/store.js';
import { storeSource } from '../layout/source.js';

export { ErrLayoutInvalid } from '../layout/store.js';

export interface PushLayoutOptions extends RegistryDestinationOptions {
  /** Which image of index.json: its `org.opencontainers.image.ref.name` (default: the only one, or the target tag). */
  name?: string;
  /**
   * More tags, written with the target's own once every blob and manifest is in: a bare tag (`latest`)
   * or a name in the target's repository. Any other name is ErrTagRepository, before anything is read
   * or written.
   */
  names?: readonly string[];
}

const PUSH_LAYOUT_KEYS: ReadonlySet<string> = new Set([
  ...DESTINATION_OPTION_KEYS,
  ...optionKeys<Omit<PushLayoutOptions, keyof RegistryDestinationOptions>>({ name: true, names: true }),
]);

/** Pushes the image (or index) of the OCI layout directory `dir` to `ref`; resolves with the top manifest's descriptor. */
export async function pushLayout(dir: string, ref: string | Reference, options: PushLayoutOptions = {}): Promise<Descriptor> {
  refuseUnknownOptions(options, PUSH_LAYOUT_KEYS, 'pushLayout()');
  return pushStore(() => directoryStore(dir), ref, options);
}

/** Pushes the OCI layout inside the tar archive `file` (nothing is extracted). */
export async function pushArchive(file: string, ref: string | Reference, options: PushLayoutOptions = {}): Promise<Descriptor> {
  refuseUnknownOptions(options, PUSH_LAYOUT_KEYS, 'pushArchive()');
  return pushStore(() => archiveStore(file), ref, options);
}

async function pushStore(open: () => LayoutStore | Promise<LayoutStore>, ref: string | Reference, options: PushLayoutOptions): Promise<Descriptor> {
  const { name, names: given, signal, ...destinationOptions } = options;
  const destination = new RegistryDestination(ref, { ...destinationOptions, ...(signal ? { signal } : {}) });
  // The names first: one that cannot be tagged fails before the source is read.
  const names = destination.resolveNames(given ?? []);
  const source = storeSource(await open(), name ?? destination.reference.tag);
  const written = await writeImage(source, destination, { names, ...(signal ? { signal } : {}) });
  return written.descriptor;
}
