// Pushing an OCI layout directory that already exists (written by fastlayer, skopeo, umoci...):
// index.json names the image; every blob is a known blob read from blobs/sha256/<hex>, so uploads can
// be HEAD-checked, skipped and retried. Manifests are read into memory (bounded) and verified here.
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Reference } from '../image/reference.js';
import type { Descriptor, KnownBlob, ManifestBlob } from '../image/types.js';
import { RegistryDestination, type RegistryDestinationOptions } from './destination.js';
import { ErrRegistryProtocol } from './errors.js';
import { MANIFEST_CAP, isIndex, sha256 } from './manifest.js';
import { descriptor, imageManifest, indexManifests, parseJSON } from './parse.js';
import { writeKnown, type KnownImage, type KnownIndex } from './tree.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

/** A layout that cannot be pushed as it is (missing blob, bad index.json, ambiguous image). */
export class ErrLayoutInvalid extends Error {
  readonly code = 'ERR_LAYOUT_INVALID' as const;
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ErrLayoutInvalid';
  }
}

export interface PushLayoutOptions extends RegistryDestinationOptions {
  /** Which image of index.json: its `org.opencontainers.image.ref.name` (default: the only one, or the target tag). */
  name?: string;
}

/** Pushes the image (or index) of the layout `dir` to `ref`; resolves with the top manifest's descriptor. */
export async function pushLayout(dir: string, ref: string | Reference, options: PushLayoutOptions = {}): Promise<Descriptor> {
  const destination = new RegistryDestination(ref, options);
  const top = await selectTop(dir, options.name ?? destination.reference.tag);
  const tree = await readTree(dir, top, 0);
  const manifest = await writeKnown(destination, tree, [], options.signal);
  return manifest.descriptor;
}

async function selectTop(dir: string, name: string | undefined): Promise<Descriptor> {
  const bytes = await readCapped(join(dir, 'index.json'), MANIFEST_CAP, 'index.json');
  let list: Descriptor[];
  try {
    list = indexManifests(bytes, `${dir}/index.json`);
  } catch (err) {
    throw new ErrLayoutInvalid((err as Error).message, err);
  }
  if (list.length === 1) return list[0]!;
  const named = list.filter((d) => name !== undefined && (d.annotations?.[REF_NAME] === name || d.annotations?.[REF_NAME]?.endsWith(`:${name}`)));
  if (named.length === 1) return named[0]!;
  throw new ErrLayoutInvalid(
    `${dir}/index.json lists ${list.length} manifests and ${named.length} of them are named "${name ?? ''}" (${REF_NAME}); name exactly one`,
  );
}

async function readTree(dir: string, d: Descriptor, depth: number): Promise<KnownImage | KnownIndex> {
  if (depth > 4) throw new ErrLayoutInvalid(`${dir}: indexes nested deeper than 4 levels`);
  const manifest = await readManifest(dir, d);
  try {
    if (isIndex(d.mediaType)) {
      const children = indexManifests(manifest.bytes, `index ${d.digest}`);
      const nodes = [];
      for (const c of children) nodes.push(await readTree(dir, c, depth + 1));
      return { index: manifest, children: nodes };
    }
    const m = imageManifest(manifest.bytes, `manifest ${d.digest}`);
    return { manifest, config: await fileBlob(dir, m.config), layers: await Promise.all(m.layers.map((l) => fileBlob(dir, l))) };
  } catch (err) {
    if (err instanceof ErrRegistryProtocol) throw new ErrLayoutInvalid(`${dir}: ${err.message}`, err);
    throw err;
  }
}

function blobPath(dir: string, d: Descriptor): string {
  const checked = descriptor(d, 'layout descriptor');
  return join(dir, 'blobs', 'sha256', checked.digest.slice('sha256:'.length));
}

async function readManifest(dir: string, d: Descriptor): Promise<ManifestBlob> {
  const bytes = await readCapped(blobPath(dir, d), MANIFEST_CAP, `manifest ${d.digest}`);
  if (bytes.length !== d.size || sha256(bytes) !== d.digest) {
    throw new ErrLayoutInvalid(`${dir}: manifest blob ${d.digest} does not match its descriptor (digest or size)`);
  }
  parseJSON(bytes, `manifest ${d.digest}`);
  return { descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size }, bytes };
}

async function fileBlob(dir: string, d: Descriptor): Promise<KnownBlob> {
  const path = blobPath(dir, d);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    throw new ErrLayoutInvalid(`${dir} does not hold blob ${d.digest}`, err);
  }
  if (size !== d.size) throw new ErrLayoutInvalid(`${dir}: blob ${d.digest} has ${size} bytes, its descriptor says ${d.size}`);
  return { kind: 'known', descriptor: d, open: () => createReadStream(path, { highWaterMark: 1024 * 1024 }) };
}

async function readCapped(path: string, cap: number, what: string): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new ErrLayoutInvalid(`cannot read ${what} (${path}): ${(err as NodeJS.ErrnoException).code ?? 'error'}`, err);
  }
  try {
    const { size } = await handle.stat();
    if (size > cap) throw new ErrLayoutInvalid(`${what} (${path}) is larger than ${cap} bytes`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
