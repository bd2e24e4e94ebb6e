// Pushing an OCI layout that already exists, as a directory or as a tar archive holding one (written by
// fastlayer, skopeo, umoci, `docker save`...): index.json names the image; every blob is a known blob
// read from blobs/sha256/<hex>, so uploads can be HEAD-checked, skipped and retried. Manifests are read
// into memory (bounded) and verified here.
import type { Reference } from '../image/reference.js';
import type { Descriptor, KnownBlob, ManifestBlob } from '../image/types.js';
import { optionKeys, refuseUnknownOptions } from '../core/errors.js';
import { DESTINATION_OPTION_KEYS, RegistryDestination, type RegistryDestinationOptions } from './destination.js';
import { ErrRegistryProtocol } from './errors.js';
import { MANIFEST_CAP, sha256 } from './manifest.js';
import { isIndexType } from '../core/media-types.js';
import { descriptor, imageManifest, indexManifests, parseJSON } from './parse.js';
import { ErrLayoutInvalid, archiveStore, directoryStore, type LayoutStore } from '../layout/store.js';
import { writeKnown, type KnownImage, type KnownIndex } from './tree.js';
import { REF_NAME } from '../image/names.js';

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
  const { name, names: given, ...destinationOptions } = options;
  const destination = new RegistryDestination(ref, destinationOptions);
  // The names first: one that cannot be tagged fails before the source is read.
  const names = destination.resolveNames(given ?? []);
  const store = await open();
  const top = await selectTop(store, name ?? destination.reference.tag);
  const tree = await readTree(store, top, 0);
  const manifest = await writeKnown(destination, tree, names, options.signal);
  return manifest.descriptor;
}

export async function selectTop(store: LayoutStore, name: string | undefined): Promise<Descriptor> {
  const bytes = await store.read('index.json', MANIFEST_CAP);
  let list: Descriptor[];
  try {
    // Entries with an artifactType are referrers (an SBOM listed beside the image), not images.
    list = indexManifests(bytes, `${store.where} index.json`).filter((d) => d.artifactType === undefined);
  } catch (err) {
    throw new ErrLayoutInvalid((err as Error).message, err);
  }
  if (list.length === 1) return list[0]!;
  const named = list.filter((d) => name !== undefined && (d.annotations?.[REF_NAME] === name || d.annotations?.[REF_NAME]?.endsWith(`:${name}`)));
  if (named.length === 1) return named[0]!;
  throw new ErrLayoutInvalid(
    `${store.where} index.json lists ${list.length} manifests and ${named.length} of them are named "${name ?? ''}" (${REF_NAME}); name exactly one`,
  );
}

async function readTree(store: LayoutStore, d: Descriptor, depth: number): Promise<KnownImage | KnownIndex> {
  if (depth > 4) throw new ErrLayoutInvalid(`${store.where}: indexes nested deeper than 4 levels`);
  const manifest = await readManifest(store, d);
  try {
    if (isIndexType(d.mediaType)) {
      const children = indexManifests(manifest.bytes, `index ${d.digest}`);
      const nodes = [];
      for (const c of children) nodes.push(await readTree(store, c, depth + 1));
      return { index: manifest, children: nodes };
    }
    const m = imageManifest(manifest.bytes, `manifest ${d.digest}`);
    return { manifest, config: await storeBlob(store, m.config), layers: await Promise.all(m.layers.map((l) => storeBlob(store, l))) };
  } catch (err) {
    if (err instanceof ErrRegistryProtocol) throw new ErrLayoutInvalid(`${store.where}: ${err.message}`, err);
    throw err;
  }
}

function blobName(d: Descriptor): string {
  const checked = descriptor(d, 'layout descriptor');
  return `blobs/sha256/${checked.digest.slice('sha256:'.length)}`;
}

export async function readManifest(store: LayoutStore, d: Descriptor): Promise<ManifestBlob> {
  const bytes = await store.read(blobName(d), MANIFEST_CAP);
  if (bytes.length !== d.size || sha256(bytes) !== d.digest) {
    throw new ErrLayoutInvalid(`${store.where}: manifest blob ${d.digest} does not match its descriptor (digest or size)`);
  }
  parseJSON(bytes, `manifest ${d.digest}`);
  return { descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size }, bytes };
}

export async function storeBlob(store: LayoutStore, d: Descriptor): Promise<KnownBlob> {
  const name = blobName(d);
  const size = await store.size(name);
  if (size === undefined) throw new ErrLayoutInvalid(`${store.where} does not hold blob ${d.digest}`);
  if (size !== d.size) throw new ErrLayoutInvalid(`${store.where}: blob ${d.digest} has ${size} bytes, its descriptor says ${d.size}`);
  return { kind: 'known', descriptor: d, open: () => store.open(name) };
}
