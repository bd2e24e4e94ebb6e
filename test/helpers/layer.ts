// Consuming layers and checking their output in tests.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { Layer } from '../../src/layer/layer.js';
import type { LayerOptions } from '../../src/layer/options.js';
import type { LayerSource } from '../../src/layer/source.js';
import { availableEngines } from '../../src/engine/engines.js';
import type { EngineFactory } from '../../src/engine/engine.js';
import { crc32Table } from '../../src/engine/crc32.js';

export const engines: EngineFactory[] = availableEngines();

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function collect(stream: Readable | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/** Builds a layer on `engine`, consumes compressed() fully, checks `done` against the getters. */
export async function compress(
  engine: EngineFactory,
  source: LayerSource,
  options: LayerOptions = {},
): Promise<{ layer: Layer; out: Buffer }> {
  const layer = new Layer(source, { engine: engine.name, ...options });
  const out = await collect(layer.compressed());
  const values = await layer.done;
  assert.ok(values.digest.equals(layer.digest()));
  assert.ok(values.diffID.equals(layer.diffID()));
  assert.equal(values.size, layer.size());
  assert.equal(values.mediaType, layer.mediaType());
  return { layer, out };
}

/**
 * Feeds an engine directly, bypassing the Layer's coalescing (each chunk is one call), and checks
 * the digest and size it reports against the bytes it produced.
 */
export async function direct(engine: EngineFactory, chunks: Uint8Array[], level: number, threads?: number): Promise<Buffer> {
  const e = engine.create({ level, compression: 'gzip', ...(threads === undefined ? {} : { threads }) });
  const parts: Uint8Array[] = [];
  for (const c of chunks) parts.push(Buffer.from(await e.update(c)));
  const r = await e.finish();
  parts.push(r.tail);
  const out = Buffer.concat(parts);
  assert.equal(r.size, out.length);
  assert.equal(r.digest, sha256(out));
  return out;
}

/** The invariants every gzip layer must satisfy for `input`. */
export function assertLayer(layer: Layer, out: Buffer, input: Uint8Array): void {
  assert.equal(layer.diffID().toString(), `sha256:${sha256(input)}`);
  assert.equal(layer.digest().toString(), `sha256:${sha256(out)}`);
  assert.equal(layer.size(), out.length);
  assertSingleMember(out, input);
}

/**
 * Parses `gz` as exactly one gzip member with fastlayer's fixed header: inflates the raw deflate
 * data, checks CRC-32 and ISIZE in the trailer, and that nothing follows the trailer.
 */
export function assertSingleMember(gz: Buffer, input: Uint8Array): void {
  assert.ok(gz.length >= 18, `gzip output too short: ${gz.length} bytes`);
  assert.deepEqual([...gz.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff], 'gzip header');
  const { buffer, engine } = zlib.inflateRawSync(gz.subarray(10), { info: true }) as unknown as {
    buffer: Buffer;
    engine: { bytesWritten: number };
  };
  assert.ok(buffer.equals(input), 'inflated data differs from the input');
  const trailer = 10 + engine.bytesWritten;
  assert.equal(gz.length, trailer + 8, 'exactly the 8-byte trailer must follow the deflate data');
  assert.equal(gz.readUInt32LE(trailer), crc32Table(input), 'CRC-32');
  assert.equal(gz.readUInt32LE(trailer + 4), input.length % 2 ** 32, 'ISIZE');
}
