/** Version of the output byte format documented in the README; bumped on any change to the bytes. */
export const FORMAT_VERSION = 1;

/** Input block size of format version 1. Must equal FASTLAYER_BLOCK_SIZE in native/core/format.h. */
export const BLOCK_SIZE = 256 * 1024;

/** Preset dictionary carried from one block to the next. */
export const WINDOW_SIZE = 32 * 1024;

/** Fixed gzip header: deflate, no flags, mtime 0, XFL 0, OS 255 (unknown). */
export const GZIP_HEADER: Readonly<Uint8Array> = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff);

/** zstd (docs/ZSTD.md): input bytes per zstd frame. Must equal kZstdFrameSize in native/core/zstd_frames.h. */
export const ZSTD_FRAME_SIZE = 8 * 1024 * 1024;
