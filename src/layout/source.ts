// The ImageSource (src/image/source.ts) of a local image store: an OCI layout directory, or a tar
// archive holding one (fastlayer's, skopeo's, umoci's, `docker save` since Docker 25). index.json
// names the image; manifests are read into memory (bounded) and checked against their descriptors;
// blobs stay in the store, read from blobs/sha256/<hex> only when a destination needs them, and
// checked while they stream. What is missing or has the wrong size is found before it is opened.
import type { Descriptor, KnownBlob, ManifestBlob } from '../image/types.js';
import { namedEntries, REF_NAME } from '../image/names.js';
import { checkDescriptor, indexEntries, MANIFEST_CAP, type ImageSource } from '../image/source.js';
import { sha256 } from '../core/hash.js';
import { openStore, type LayoutStore } from './store.js';
import { layoutInvalid } from '../image/errors.js';


/** The errors a reader wants: ERR_LAYOUT_INVALID by default; loadBase's are ERR_BASE_IMAGE. */
export interface SourceErrors {
  invalid(message: string, cause?: unknown): Error;
  missing(message: string): Error;
}

const LAYOUT_ERRORS: SourceErrors = { invalid: layoutInvalid, missing: (message) => layoutInvalid(message) };

function blobName(store: LayoutStore, d: Descriptor, invalid: SourceErrors['invalid']): string {
  const checked = checkDescriptor(d, `${store.where}: layout descriptor`, invalid);
  return `blobs/sha256/${checked.digest.slice('sha256:'.length)}`;
}

/**
 * The image of index.json: its only entry, or the one named `name` (names.ts's rule). Entries with
 * an artifactType are referrers (an SBOM listed beside the image), not images.
 */
export async function selectTop(store: LayoutStore, name: string | undefined, source: ImageSource): Promise<Descriptor> {
  const bytes = await store.read('index.json', MANIFEST_CAP);
  const index: ManifestBlob = { descriptor: { mediaType: 'index.json', digest: sha256(bytes), size: bytes.length }, bytes };
  const list = namedEntries(indexEntries({ ...source, where: `${store.where} index.json` }, index), undefined);
  if (list.length === 1) return list[0]!;
  const named = name === undefined ? [] : namedEntries(list, name);
  if (named.length === 1) return named[0]!;
  throw source.invalid(
    `${store.where} index.json lists ${list.length} manifests and ${named.length} of them are named "${name ?? ''}" (${REF_NAME}); name exactly one`,
  );
}

/** The store's image as an ImageSource; `name` picks one of several in index.json (see selectTop). */
export function storeSource(store: LayoutStore, name?: string, errors: SourceErrors = LAYOUT_ERRORS): ImageSource {
  const { invalid } = errors;
  let top: Promise<Descriptor> | undefined;
  const source: ImageSource = {
    where: store.where,
    top: () => (top ??= selectTop(store, name, source)),
    async manifest(d) {
      const bytes = await store.read(blobName(store, d, invalid), MANIFEST_CAP);
      if (bytes.length !== d.size || sha256(bytes) !== d.digest) {
        throw invalid(`${store.where}: manifest blob ${d.digest} does not match its descriptor (digest or size)`);
      }
      return { descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size }, bytes };
    },
    async blob(d): Promise<KnownBlob> {
      const file = blobName(store, d, invalid);
      const size = await store.size(file);
      if (size === undefined) throw invalid(`${store.where} does not hold blob ${d.digest}`);
      if (size !== d.size) throw invalid(`${store.where}: blob ${d.digest} has ${size} bytes, its descriptor says ${d.size}`);
      return { kind: 'known', descriptor: d, open: () => store.open(file, d) };
    },
    invalid,
    missing: errors.missing,
  };
  return source;
}

/** The image of the layout directory or archive at `path` (a directory is read as a layout, anything else as an archive). */
export async function layoutSource(path: string, name?: string): Promise<ImageSource> {
  return storeSource(await openStore(path), name);
}
