// Checking zstd layers without trusting the code under test: a frame walker written from RFC 8878,
// and decoding with node:zlib (Node >= 22.15) or the zstd command.
import { spawnSync } from 'node:child_process';
import * as zlib from 'node:zlib';

export interface FrameInfo {
  start: number;
  end: number;
  windowSize: number;
  checksum: boolean;
  contentSizePresent: boolean;
  blocks: number;
}

/** Walks `data` as consecutive zstd frames (RFC 8878 section 3.1.1); throws on anything else. */
export function walkFrames(data: Uint8Array): FrameInfo[] {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const frames: FrameInfo[] = [];
  let pos = 0;
  while (pos < view.length) {
    const start = pos;
    if (view.length - pos < 6) throw new Error(`truncated frame header at ${pos}`);
    if (view.readUInt32LE(pos) !== 0xfd2fb528) throw new Error(`no zstd magic number at ${pos}`);
    const fhd = view[pos + 4]!;
    pos += 5;
    const fcsFlag = fhd >> 6;
    const singleSegment = (fhd >> 5) & 1;
    if ((fhd >> 3) & 1) throw new Error('reserved bit set');
    const checksum = ((fhd >> 2) & 1) === 1;
    const dictIdSize = [0, 1, 2, 4][fhd & 3]!;
    let windowSize = 0;
    if (!singleSegment) {
      const wd = view[pos++]!;
      const base = 2 ** (10 + (wd >> 3));
      windowSize = base + (base / 8) * (wd & 7);
    }
    pos += dictIdSize;
    const fcsSize = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
    pos += fcsSize;
    let blocks = 0;
    for (;;) {
      if (view.length - pos < 3) throw new Error(`truncated block header at ${pos}`);
      const header = view.readUIntLE(pos, 3);
      pos += 3;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      if (type === 3) throw new Error(`reserved block type at ${pos - 3}`);
      pos += type === 1 ? 1 : size;
      blocks++;
      if (pos > view.length) throw new Error('block runs past the end');
      if (header & 1) break;
    }
    if (checksum) pos += 4;
    if (pos > view.length) throw new Error('checksum runs past the end');
    frames.push({ start, end: pos, windowSize, checksum, contentSizePresent: fcsSize > 0, blocks });
  }
  return frames;
}

type Decompress = (buffer: Uint8Array, options?: object) => Buffer;
const nodeSync = (zlib as unknown as { zstdDecompressSync?: Decompress }).zstdDecompressSync;

// Node 22's zstd decoder (seen on 22.23.5) stops after the first frame of a multi-frame input and
// returns only that frame's bytes, where Node 24 and 26 and the zstd command decode every frame (RFC
// 8878 3.1: frames are concatenated). Probe once with two tiny frames; where the decoder stops early,
// decode frame by frame on the walker's boundaries.
function decodesEveryFrame(decompress: Decompress): boolean {
  const compress = (zlib as unknown as { zstdCompressSync: (b: Uint8Array) => Buffer }).zstdCompressSync;
  const two = Buffer.concat([compress(Buffer.from('a')), compress(Buffer.from('bc'))]);
  return decompress(two).toString() === 'abc';
}
const nodeDecompress: Decompress | undefined = nodeSync === undefined ? undefined
  : decodesEveryFrame(nodeSync) ? nodeSync
    : (data) => Buffer.concat(walkFrames(data).map((f) => nodeSync(data.subarray(f.start, f.end))));

let cliChecked: boolean | undefined;
/** Whether the `zstd` command runs here. */
export function hasZstdCli(): boolean {
  cliChecked ??= spawnSync('zstd', ['--version'], { encoding: 'utf8' }).status === 0;
  return cliChecked;
}

/** `zstd -dc` of data (checks every frame's checksum); throws with zstd's message on failure. */
export function zstdCliDecode(data: Uint8Array): Buffer {
  const r = spawnSync('zstd', ['-q', '-d', '-c'], { input: data, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`zstd -d failed: ${r.stderr.toString()}`);
  return r.stdout;
}

/** `zstd -t` of data: true when every frame decodes and its checksum matches. */
export function zstdCliTest(data: Uint8Array): boolean {
  return spawnSync('zstd', ['-q', '-t'], { input: data, maxBuffer: 1 << 30 }).status === 0;
}

/** Decodes with whatever this machine has (node:zlib first, else the zstd command), or undefined. */
export function decodeZstd(data: Uint8Array): Buffer | undefined {
  if (nodeDecompress) return nodeDecompress(data);
  if (hasZstdCli()) return zstdCliDecode(data);
  return undefined;
}

export function canDecodeZstd(): boolean {
  return nodeDecompress !== undefined || hasZstdCli();
}

export const NO_DECODER = 'neither node:zlib zstd (Node >= 22.15) nor the zstd command is available';
