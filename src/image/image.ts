// Images and indexes as plain data: a config (options over an optional base's), ordered layer blobs
// (streaming Layers or known blobs), a platform, a manifest format. Constructing one checks every
// argument and does no I/O; writeImage (write.ts) produces the bytes. Both are ImageSources
// (source.ts) whose documents exist once their streaming layers were produced (built-source.ts).
import { Layer } from '../layer/layer.js';
import { ErrInvalidOption, ErrOptionRange, optionKeys, refuseUnknownOptions } from '../core/errors.js';
import { ErrImageFormat } from './errors.js';
import { BuiltSource, type BuiltParts } from './built-source.js';
import { containerConfig, imageConfig, resolveCreated, type ConfigJSON, type ConfigOptions, type HistoryEntry } from './config.js';
import { addedHistory } from './history.js';
import { layerMediaType, type ImageFormat } from './manifest.js';
import { checkBasePlatform, describePlatform, parsePlatform, platformKey } from './platform.js';
import type { Blob, Platform } from './types.js';

/** A base image as base.ts loads it. */
export interface BaseImage {
  readonly config: ConfigJSON;
  readonly platform: Platform;
  /** Where it came from, for messages. */
  readonly source: string;
  /** Fresh blobs for its layers, in order (a streaming one can be written once: call again per image). */
  layers(): Blob[];
}

/** Anything that turns itself into a base: what `pull()` returns. */
export interface BaseSource {
  asBase(): BaseImage;
}

export type LayerInput = Layer | Blob | { layer: Layer | Blob; history?: HistoryEntry };

export interface ImageOptions extends ConfigOptions {
  /** A base from loadBase, or a pulled image (its layers are fetched only if a destination needs them). */
  base?: BaseImage | BaseSource;
  /** Added on top of the base's layers, in order. */
  layers?: readonly LayerInput[];
  /**
   * Without a base: default linux/amd64 (never the host's: output must not depend on it). With one,
   * the image's platform is the base's (its variant, os.version, os.features); a platform given
   * must match it (platformMatches) or the constructor throws ERR_BASE_IMAGE.
   */
  platform?: string | Platform;
  /** Default: SOURCE_DATE_EPOCH, else 1970-01-01T00:00:00Z. */
  created?: Date | string | number;
  author?: string;
  /** Manifest annotations (OCI only). */
  annotations?: Record<string, string>;
  /** 'oci' (default) or 'docker' (schema 2). */
  format?: ImageFormat;
}

export interface ImageLayer {
  readonly blob: Blob;
  readonly history?: HistoryEntry;
  readonly fromBase: boolean;
}

const KNOWN = optionKeys<ImageOptions>({
  base: true, layers: true, platform: true, created: true, author: true, annotations: true, format: true,
  entrypoint: true, cmd: true, env: true, workdir: true, user: true, labels: true, exposedPorts: true, volumes: true, stopSignal: true, healthcheck: true,
});
const INDEX_KNOWN = optionKeys<ImageIndexOptions>({ annotations: true });

function toBlob(input: Layer | Blob, where: string): Blob {
  if (input instanceof Layer) return { kind: 'streaming', layer: input };
  const b = input as Partial<Blob> | null;
  if (b && b.kind === 'streaming' && (b as { layer?: unknown }).layer instanceof Layer) return b as Blob;
  if (b && b.kind === 'known' && typeof (b as { open?: unknown }).open === 'function' && typeof b.descriptor?.digest === 'string') return b as Blob;
  throw new ErrInvalidOption(where, 'a Layer, a known blob or { layer, history }', input);
}

function toBase(value: BaseImage | BaseSource | undefined): BaseImage | undefined {
  if (value === undefined) return undefined;
  const v = value as Partial<BaseImage> & Partial<BaseSource>;
  const base = typeof v === 'object' && v !== null && typeof v.layers !== 'function' && typeof v.asBase === 'function' ? v.asBase() : (v as BaseImage);
  if (typeof base !== 'object' || base === null || typeof base.layers !== 'function' || typeof base.config !== 'object' || base.config === null) {
    throw new ErrInvalidOption('base', 'a base image (loadBase) or a pulled image (pull)', value);
  }
  return base;
}

/**
 * The image's platform: a base's own, whole (its layers are of that platform only, so a `platform`
 * option saying another would write a config that lies about them, and one saying less, `linux/arm`
 * for an arm/v6 base, would drop the variant a puller chooses by); else the option, else linux/amd64.
 */
function platformOf(base: BaseImage | undefined, given: string | Platform | undefined): Platform {
  const wanted = given === undefined ? undefined : parsePlatform(given);
  if (!base) return wanted ?? parsePlatform('linux/amd64');
  let own: Platform;
  try {
    own = parsePlatform(base.platform);
  } catch {
    // Named as the base's: the caller's `platform` option is not the one at fault.
    throw new ErrInvalidOption('base.platform', 'a platform object with os and architecture', base.platform);
  }
  if (wanted) checkBasePlatform(own, wanted, base.source);
  return own;
}

/** A base's layers: an array of blobs, or the base is refused here rather than with a TypeError further on. */
function baseLayers(base: BaseImage): Blob[] {
  const blobs: unknown = base.layers();
  if (!Array.isArray(blobs)) throw new ErrInvalidOption('base', 'a base image whose layers() returns an array of blobs', blobs);
  return blobs.map((b, i) => toBlob(b as Blob, `base layers()[${i}]`));
}

function mediaTypeOf(blob: Blob): string {
  return blob.kind === 'streaming' ? blob.layer.mediaType() : blob.descriptor.mediaType;
}

function annotations(value: unknown, name: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw new ErrInvalidOption(name, 'an object of strings', value);
  }
  return { ...(value as Record<string, string>) };
}

function format(value: unknown): ImageFormat {
  if (value === undefined) return 'oci';
  if (value !== 'oci' && value !== 'docker') throw new ErrOptionRange('format', "'oci' or 'docker'", value);
  return value;
}

export class Image extends BuiltSource {
  readonly format: ImageFormat;
  readonly platform: Platform;
  readonly created: string;
  readonly annotations: Readonly<Record<string, string>> | undefined;
  readonly layers: readonly ImageLayer[];
  readonly base: BaseImage | undefined;
  readonly #options: ConfigOptions;
  readonly #author: string | undefined;

  constructor(options: ImageOptions = {}) {
    super();
    refuseUnknownOptions(options, KNOWN, 'new Image()');
    const { base: given, layers = [], platform, created, author, annotations: ann, format: fmt, ...config } = options;
    this.format = format(fmt);
    const base = toBase(given);
    this.base = base;
    this.platform = platformOf(base, platform);
    this.created = resolveCreated(created);
    this.annotations = annotations(ann, 'annotations');
    if (this.format === 'docker' && this.annotations && Object.keys(this.annotations).length > 0) {
      throw new ErrImageFormat('a Docker schema 2 manifest has no annotations; use format \'oci\'');
    }
    if (author !== undefined && typeof author !== 'string') throw new ErrInvalidOption('author', 'a string', author);
    this.#author = author;
    if (!Array.isArray(layers)) throw new ErrInvalidOption('layers', 'an array', layers);
    const list: ImageLayer[] = base ? baseLayers(base).map((blob) => ({ blob, fromBase: true })) : [];
    layers.forEach((input: LayerInput, i: number) => {
      const entry = input && typeof input === 'object' && 'layer' in input && !(input instanceof Layer) && (input as { kind?: unknown }).kind === undefined
        ? (input as { layer: Layer | Blob; history?: HistoryEntry })
        : { layer: input as Layer | Blob };
      list.push({ blob: toBlob(entry.layer, `layers[${i}]`), history: addedHistory(entry.history, `layers[${i}].history`), fromBase: false });
    });
    // Refuse now what the manifest could not list (Docker format and zstd, say), before any I/O.
    for (const l of list) layerMediaType(mediaTypeOf(l.blob), this.format);
    this.layers = Object.freeze(list);
    this.#options = { ...config };
    containerConfig(base?.config.config, this.#options); // validates the options now
    Object.freeze(this);
  }

  /** The config document once every layer's diffID is known (base layers first). */
  configJSON(diffIDs: readonly string[]): ConfigJSON {
    const added = this.layers.filter((l) => !l.fromBase).map((l) => ({ created_by: 'fastlayer', ...l.history }));
    return imageConfig({
      base: this.base?.config,
      options: this.#options,
      platform: this.platform,
      created: this.created,
      author: this.#author,
      diffIDs,
      history: added,
    });
  }

  override toString(): string {
    return `Image(${describePlatform(this.platform)}, ${this.layers.length} layers, ${this.format})`;
  }

  // ---- ImageSource (built-source.ts)

  get where(): string {
    return this.toString();
  }

  protected builtParts(): BuiltParts {
    return { images: [this] };
  }
}

export interface ImageIndexOptions {
  annotations?: Record<string, string>;
}

/** Several images for different platforms (an OCI index or Docker manifest list). */
export class ImageIndex extends BuiltSource {
  readonly images: readonly Image[];
  readonly format: ImageFormat;
  readonly annotations: Readonly<Record<string, string>> | undefined;

  constructor(images: readonly Image[], options: ImageIndexOptions = {}) {
    super();
    if (!Array.isArray(images) || images.length === 0 || !images.every((i) => i instanceof Image)) {
      throw new ErrInvalidOption('images', 'a non-empty array of Image', images);
    }
    // One image per platform as a puller tells them apart: linux/arm64 and linux/arm64/v8 are one,
    // two Windows images of different os.version are two (an index per Windows release is common).
    const seen = new Set<string>();
    for (const image of images) {
      const key = platformKey(image.platform);
      if (seen.has(key)) throw new ErrOptionRange('images', 'one image per platform', describePlatform(image.platform));
      seen.add(key);
      if (image.format !== images[0]!.format) throw new ErrOptionRange('images', 'images of one manifest format', image.format);
    }
    refuseUnknownOptions(options, INDEX_KNOWN, 'new ImageIndex()');
    this.images = Object.freeze([...images]);
    this.format = images[0]!.format;
    this.annotations = annotations(options.annotations, 'annotations');
    if (this.format === 'docker' && this.annotations && Object.keys(this.annotations).length > 0) {
      throw new ErrImageFormat('a Docker manifest list has no annotations; use format \'oci\'');
    }
    Object.freeze(this);
  }
  // ---- ImageSource (built-source.ts)

  get where(): string {
    return `ImageIndex(${this.images.map((i) => describePlatform(i.platform)).join(', ')}, ${this.format})`;
  }

  protected builtParts(): BuiltParts {
    return { images: this.images, index: { format: this.format, annotations: this.annotations } };
  }
}
