// The one reader of docker-save image stores (`docker save` before Docker 25, skopeo's
// docker-archive:): manifest.json lists [{Config, RepoTags, Layers}], names of files in the directory
// or tar (store.ts), not descriptors. readDockerSave picks an image and reads its config;
// dockerSaveSource makes it an ImageSource (src/image/source.ts), as go-containerregistry's
// tarball.Image does: a Docker schema 2 manifest made from the entry, each layer's digest its
// diff_id when it is an uncompressed tar (checked as it streams: no read up front), else the hash of
// its bytes (one read, only for a gzip layer). Names go to the store, which refuses unsafe ones with
// the caller's error; loadBase (src/build/base.ts) and inspect read docker-save through here.
import { createHash } from 'node:crypto';
import { DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_LAYER_TAR, DOCKER_MANIFEST } from '../core/media-types.js';
import { DIGEST_PATTERN, sha256 } from '../core/hash.js';
import { canonicalJSON, parseJSON } from '../image/json.js';
import { Reference } from '../image/reference.js';
import type { ImageSource } from '../image/source.js';
import type { Descriptor, KnownBlob, ManifestBlob } from '../image/types.js';
import type { SourceErrors } from './source.js';
import type { LayoutStore } from './store.js';

/** Largest manifest.json or config read into memory (a config with a long history can be large). */
export const MAX_DOCKER_SAVE_JSON = 16 * 1024 * 1024;

export interface DockerSaveImage {
  readonly where: string;
  /** The entry of manifest.json, as it is. */
  readonly entry: Readonly<Record<string, unknown>>;
  /** Its RepoTags (familiar, `app:1`, or fully qualified, as the writer wrote them). */
  readonly repoTags: readonly string[];
  /** The config: its bytes and a descriptor made from them. */
  readonly config: { readonly name: string; readonly descriptor: Descriptor; readonly bytes: Buffer; readonly content: Record<string, unknown> };
  /** Each layer: its file in the store, size and diff_id (from the config). */
  readonly layers: readonly { readonly name: string; readonly size: number; readonly diffID: string }[];
}

function normal(name: string): string | undefined {
  try {
    return Reference.parse(name).toString();
  } catch {
    return undefined;
  }
}

/** Whether a RepoTags entry is `wanted`: the same string, the same reference normalised, or its tag. */
function tagMatches(tag: string, wanted: string): boolean {
  if (tag === wanted || tag.endsWith(`:${wanted}`)) return true;
  const n = normal(wanted);
  return n !== undefined && normal(tag) === n;
}

function json(bytes: Buffer, what: string, errors: SourceErrors): unknown {
  try {
    return parseJSON(bytes);
  } catch (err) {
    throw errors.invalid(`${what} is not valid JSON: ${(err as Error).message}`, err);
  }
}

/** The image of manifest.json: its only entry, or the one with a RepoTags entry `name`. */
export async function readDockerSave(store: LayoutStore, name: string | undefined, errors: SourceErrors): Promise<DockerSaveImage> {
  const where = store.where;
  const list = json(await store.read('manifest.json', MAX_DOCKER_SAVE_JSON), `${where}: manifest.json`, errors);
  if (!Array.isArray(list)) throw errors.invalid(`${where}: manifest.json is not a list`);
  const tagsOf = (e: unknown): string[] => {
    const t = (e as { RepoTags?: unknown } | null)?.RepoTags;
    return Array.isArray(t) ? t.filter((s): s is string => typeof s === 'string') : [];
  };
  const found = name === undefined ? list : list.filter((e) => tagsOf(e).some((t) => tagMatches(t, name)));
  if (found.length !== 1) {
    const all = list.map((e) => tagsOf(e).join(' ') || '(untagged)').join(', ');
    throw errors.missing(`${where}: manifest.json lists ${found.length === 0 ? 'no image' : `${found.length} images`}${name === undefined ? '' : ` named "${name}"`} (${all}); choose one by name`);
  }
  const entry = found[0] as Record<string, unknown> | null;
  if (entry === null || typeof entry !== 'object' || typeof entry.Config !== 'string' || !Array.isArray(entry.Layers) || !entry.Layers.every((l) => typeof l === 'string')) {
    throw errors.invalid(`${where}: manifest.json entry lacks Config or Layers`);
  }
  const configName = entry.Config;
  if ((await store.size(configName)) === undefined) throw errors.invalid(`${where}: missing config ${configName}`);
  const bytes = await store.read(configName, MAX_DOCKER_SAVE_JSON);
  const digest = sha256(bytes);
  // Docker names the config after its digest: a config so named that is not those bytes is refused.
  const named = /(?:^|\/)([0-9a-f]{64})(?:\.json)?$/.exec(configName)?.[1];
  if (named !== undefined && digest !== `sha256:${named}`) throw errors.invalid(`${where}: the config ${configName} does not match its digest`);
  const content = json(bytes, `${where}: ${configName}`, errors) as Record<string, unknown> | null;
  if (content === null || typeof content !== 'object' || Array.isArray(content)) throw errors.invalid(`${where}: ${configName} is not a JSON object`);
  const ids = (content.rootfs as { diff_ids?: unknown } | undefined)?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && DIGEST_PATTERN.test(d))) throw errors.invalid(`${where}: config has no valid rootfs.diff_ids`);
  const names = entry.Layers as string[];
  if (names.length !== ids.length) throw errors.invalid(`${where}: ${names.length} layers but ${ids.length} diff_ids`);
  const layers = [];
  for (const [i, layer] of names.entries()) {
    const size = await store.size(layer);
    if (size === undefined) throw errors.invalid(`${where}: missing layer ${layer}`);
    layers.push({ name: layer, size, diffID: ids[i] as string });
  }
  return {
    where,
    entry,
    repoTags: tagsOf(entry),
    config: { name: configName, descriptor: { mediaType: DOCKER_CONFIG, digest, size: bytes.length }, bytes, content },
    layers,
  };
}

async function isGzip(store: LayoutStore, name: string): Promise<boolean> {
  for await (const chunk of store.open(name)) {
    const b = chunk as Buffer;
    return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
  }
  return false;
}

async function hashOf(store: LayoutStore, name: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of store.open(name)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/** `image` (readDockerSave) as an ImageSource; its manifest is made on the first top(). */
export function dockerSaveSource(store: LayoutStore, image: DockerSaveImage, errors: SourceErrors): ImageSource {
  const files = new Map<string, string>([[image.config.descriptor.digest, image.config.name]]);
  let made: Promise<ManifestBlob> | undefined;
  const make = async (): Promise<ManifestBlob> => {
    const layers: Descriptor[] = [];
    for (const l of image.layers) {
      // An uncompressed layer's digest is its diff_id: the bytes are checked against it when read.
      const d = (await isGzip(store, l.name))
        ? { mediaType: DOCKER_LAYER_GZIP, digest: await hashOf(store, l.name), size: l.size }
        : { mediaType: DOCKER_LAYER_TAR, digest: l.diffID, size: l.size };
      files.set(d.digest, l.name);
      layers.push(d);
    }
    const bytes = canonicalJSON({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: image.config.descriptor, layers });
    return { descriptor: { mediaType: DOCKER_MANIFEST, digest: sha256(bytes), size: bytes.length }, bytes };
  };
  const manifest = (): Promise<ManifestBlob> => (made ??= make());
  return {
    where: image.where,
    top: async () => (await manifest()).descriptor,
    async manifest(d) {
      const m = await manifest();
      if (d.digest !== m.descriptor.digest || d.size !== m.descriptor.size) throw errors.invalid(`${image.where} has no manifest ${d.digest}`);
      return m;
    },
    async blob(d): Promise<KnownBlob> {
      await manifest();
      const name = files.get(d.digest);
      if (name === undefined) throw errors.invalid(`${image.where} does not hold blob ${d.digest}`);
      const size = await store.size(name);
      if (size !== d.size) throw errors.invalid(`${image.where}: blob ${d.digest} has ${size ?? 'no'} bytes, its descriptor says ${d.size}`);
      return { kind: 'known', descriptor: d, open: () => store.open(name, d) };
    },
    invalid: errors.invalid,
    missing: errors.missing,
  };
}
