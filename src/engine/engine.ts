/** What a compression engine returns once the whole input has been seen. */
export interface EngineResult {
  /** Remaining output: the last block and the gzip trailer (empty for compression 'none'). */
  tail: Uint8Array;
  /** Lowercase hex SHA-256 of every byte the engine produced. */
  digest: string;
  /** Lowercase hex SHA-256 of every byte the engine consumed. */
  diffID: string;
  /** Number of bytes the engine produced. */
  size: number;
}

/** Which engine a layer runs on. */
export type EngineName = 'native' | 'js';

export type Compression = 'gzip' | 'none' | 'zstd';

export interface EngineOptions {
  /** gzip: 0 to 9; zstd: 1 to 19. */
  level: number;
  compression: Compression;
  /**
   * Threads one layer may compress on at once (1 to 64). Units of the format are independent, so
   * the bytes never depend on it. Absent: 1 for native, 4 for js (deflates on the libuv threadpool).
   */
  threads?: number;
}

/**
 * Input of one update(): a chunk, or several consumed in order exactly as their concatenation would
 * be (the output never depends on where the input is cut). A list lets one call carry many source
 * chunks without copying them together.
 */
export type EngineInput = Uint8Array | readonly Uint8Array[];

/**
 * One layer's worth of compression and hashing. Calls are strictly sequential: the caller awaits
 * each update() before the next and never mutates its input (the list or its chunks) until the
 * promise settles.
 */
export interface Engine {
  update(input: EngineInput): Promise<Uint8Array>;
  /**
   * Optional: update() with up to `length` bytes the engine reads itself from the file descriptor
   * (at `position`, or at its current position when -1), sparing the bytes a trip through
   * JavaScript. bytesRead < length only at the end of the file.
   */
  readFile?(fd: number, position: number, length: number, continues?: boolean): Promise<{ output: Uint8Array; bytesRead: number }>;
  /** Optional, with readFile: the bytes the engine asks for per readFile() call (default 1 MiB). */
  readonly readLength?: number;
  /**
   * Optional, with readFile: true when the next readFile() may be made before the one in flight
   * resolves, with `continues` (the same fd, from where that one's range ends): it then reads
   * nothing if that one reached the end of the file.
   */
  readonly readAhead?: boolean;
  /**
   * Optional: a flush point (zlib's Z_SYNC_FLUSH). The output so far, with the one returned, decodes
   * to every byte consumed so far; the units after it are cut from this point, so the bytes (and the
   * digest) after a flush differ from a layer without it. Nothing to flush: empty output.
   */
  flush?(): Promise<Uint8Array>;
  finish(): Promise<EngineResult>;
  /** Releases resources; safe at any time, also while a call is in flight. Idempotent. */
  destroy(): void;
  /**
   * Optional: told whether the consumer of the output is behind (the stream still holds earlier
   * output), so that the engine may trade CPU time it would otherwise spend waiting for less memory.
   * Never changes the bytes.
   */
  consumerSlow?(slow: boolean): void;
}

export interface EngineInfo {
  name: 'native' | 'js';
  /** Versions and paths of the parts, e.g. { isal: '2.30.0', zlib: '1.2.13', sha256: 'sha-ni' }. */
  details: Readonly<Record<string, string>>;
}

export interface EngineFactory extends EngineInfo {
  create(options: EngineOptions): Engine;
  /**
   * Optional: false when create() would refuse these options on this machine (the native engine at
   * levels 1-2 on a CPU where ISA-L gives other bytes). Absent means every option is supported.
   */
  supports?(options: EngineOptions): boolean;
}
