// Options of the stream forms: the Layer's own options (validated by the Layer itself, so every
// option it gains works here unchanged), zlib's `level` as an alias, the Node stream buffer sizes,
// and a coded refusal of the zlib and stream options that have no meaning for a layer.
import { ErrInvalidOption, ErrOptionRange } from '../core/errors.js';
import { ZSTD_DEFAULT_LEVEL, ZSTD_MAX_LEVEL, type LayerOptions } from './options.js';

export interface LayerStreamOptions extends LayerOptions {
  /**
   * zlib's name for compressionLevel (give one, or both with the same value), in the compression's
   * range. gzip: -1 to 9, -1 (zlib.constants.Z_DEFAULT_COMPRESSION) meaning 6, zlib's default. zstd:
   * -1 to 19, -1 and 0 meaning 3, zstd's default. fastlayer's own default stays 1 (gzip), 3 (zstd).
   */
  level?: number;
  /** Node stream buffer sizes, as zlib.createGzip() takes them (bytes; Node's defaults otherwise). */
  highWaterMark?: number;
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
}

export interface LayerCompressionStreamOptions extends LayerOptions {
  /** As for createGzip(): zlib's name for compressionLevel, in the compression's range. */
  level?: number;
}

const ZLIB_DEFAULT_LEVEL = 6;

// The alias takes the compression's own range, with the default sentinels of its library: zlib's -1
// (Z_DEFAULT_COMPRESSION), and for zstd also 0 (ZSTD_CLEVEL_DEFAULT's meaning in libzstd). A bad
// `compression` is left to the Layer to report; the level is then read in gzip's range.
interface LevelRange {
  max: number;
  defaults: ReadonlyMap<number, number>;
  text: string;
}
const GZIP_RANGE: LevelRange = {
  max: 9,
  defaults: new Map([[-1, ZLIB_DEFAULT_LEVEL]]),
  text: `an integer from -1 (zlib's default, ${ZLIB_DEFAULT_LEVEL}) to 9`,
};
const ZSTD_RANGE: LevelRange = {
  max: ZSTD_MAX_LEVEL,
  defaults: new Map([[-1, ZSTD_DEFAULT_LEVEL], [0, ZSTD_DEFAULT_LEVEL]]),
  text: `an integer from -1 to ${ZSTD_MAX_LEVEL} for zstd (-1 and 0: zstd's default, ${ZSTD_DEFAULT_LEVEL}; ultra levels 20-22 are not supported)`,
};

// Why each refused option cannot be honoured: the format fixes the deflate parameters so that the
// bytes are reproducible, and the engine decides where output chunks end.
const REFUSED: Readonly<Record<string, string>> = {
  windowBits: 'the layer format fixes the deflate window (32 KiB)',
  memLevel: 'the layer format fixes the deflate parameters',
  strategy: 'the layer format fixes the deflate strategy',
  dictionary: 'a layer is a plain gzip member without a preset dictionary',
  flush: 'a layer ends its blocks at fixed boundaries of the format, not at each write (flush() makes a flush point where the engine has one)',
  finishFlush: 'a layer always ends with one complete gzip trailer',
  chunkSize: 'output chunks are the engine\'s own (up to about 1 MiB), not a fixed size',
  info: 'the layer values come from digest(), diffID(), size() and done',
  maxOutputLength: 'it only applies to zlib\'s synchronous calls',
  params: 'it is a Brotli option',
  objectMode: 'a layer stream carries bytes',
  readableObjectMode: 'a layer stream carries bytes',
  writableObjectMode: 'a layer stream carries bytes',
  encoding: 'compressed output is bytes, not text',
  decodeStrings: 'written strings are always encoded to bytes (with the write\'s encoding)',
};

const NODE_STREAM = ['highWaterMark', 'readableHighWaterMark', 'writableHighWaterMark'] as const;

export interface SplitOptions {
  layer: LayerOptions;
  stream: { highWaterMark?: number; readableHighWaterMark?: number; writableHighWaterMark?: number };
}

/**
 * Separates the options of createGzip() (`node` true) or LayerCompressionStream. Throws a coded
 * TypeError/RangeError for a refused option or a `level` that disagrees; the Layer validates the rest.
 */
export function splitStreamOptions(options: unknown, node: boolean): SplitOptions {
  if (options === undefined) return { layer: {}, stream: {} };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ErrInvalidOption('options', 'an object', options);
  }
  const layer: Record<string, unknown> = { ...(options as Record<string, unknown>) };
  // A stream form compresses any bytes as they are written; eStargz rewrites a tar into members
  // and a TOC, which only a whole Layer (or estargzLayer) of a tar can do.
  if (layer.compression === 'estargz') throw new ErrOptionRange('compression', "'gzip', 'zstd' or 'none' for a stream form (eStargz needs a Layer of a tar)", layer.compression);
  const stream: Record<string, unknown> = {};
  for (const [key, why] of Object.entries(REFUSED)) {
    // An explicit undefined is the same as leaving the option out (`{ chunkSize: opts.chunkSize }`).
    if (layer[key] !== undefined) throw new ErrInvalidOption(key, `absent (zlib/stream option with no meaning here: ${why})`, layer[key]);
    delete layer[key];
  }
  if (node) {
    for (const key of NODE_STREAM) {
      if (layer[key] !== undefined) stream[key] = layer[key];
      delete layer[key];
    }
  }
  if ('level' in layer) {
    const level = resolveLevel(layer.level, layer.compressionLevel, layer.compression === 'zstd' ? ZSTD_RANGE : GZIP_RANGE);
    delete layer.level;
    if (level !== undefined) layer.compressionLevel = level;
  }
  return { layer: layer as LayerOptions, stream };
}

function resolveLevel(level: unknown, compressionLevel: unknown, range: LevelRange): number | undefined {
  if (level === undefined) return undefined;
  if (typeof level !== 'number') throw new ErrInvalidOption('level', 'a number', level);
  if (!Number.isInteger(level) || level < -1 || level > range.max) throw new ErrOptionRange('level', range.text, level);
  const resolved = range.defaults.get(level) ?? level;
  if (compressionLevel !== undefined && compressionLevel !== resolved) {
    throw new ErrOptionRange('level', `absent or equal to compressionLevel (${String(compressionLevel)})`, level);
  }
  return resolved;
}
