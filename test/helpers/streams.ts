// Pieces shared by the stream-form tests (test/layer/stream-*.test.ts, test/hazard/streams.test.ts).
import { Writable } from 'node:stream';
import { ReadableStream, WritableStream } from 'node:stream/web';
import type { Layer } from '../../src/layer/layer.js';
import type { LayerOptions } from '../../src/layer/options.js';
import { collect } from './layer.js';

/** A Node sink keeping what it receives. */
export function nodeSink(): Writable & { bytes(): Buffer } {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      parts.push(chunk);
      callback();
    },
  });
  return Object.assign(sink, { bytes: () => Buffer.concat(parts) });
}

/** A web sink keeping what it receives. */
export function webSink(): WritableStream<Uint8Array> & { bytes(): Buffer } {
  const parts: Buffer[] = [];
  const sink = new WritableStream<Uint8Array>({
    write(chunk) {
      parts.push(Buffer.from(chunk));
    },
  });
  return Object.assign(sink, { bytes: () => Buffer.concat(parts) });
}

/** A web ReadableStream yielding `chunks` as they are (pulled one at a time). */
export function webSource(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else controller.close();
    },
  });
}

/** What `new Layer(input, options)` produces: the reference every stream form must equal. */
export async function layerBytes(
  LayerClass: typeof Layer,
  input: Uint8Array,
  options: LayerOptions,
): Promise<{ out: Buffer; digest: string; diffID: string; size: number }> {
  const layer = new LayerClass(input, options);
  const out = await collect(layer.compressed());
  const values = await layer.done;
  return { out, digest: values.digest.toString(), diffID: values.diffID.toString(), size: values.size };
}

/** Deterministic chunk sizes between 1 and `max`, covering `length` bytes. */
export function randomCuts(data: Uint8Array, max: number, seed = 3): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let x = seed >>> 0 || 1;
  for (let i = 0; i < data.length; ) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const n = 1 + (x % max);
    chunks.push(data.subarray(i, i + n));
    i += n;
  }
  return chunks;
}

/** Waits until `read()` returns the same value `times` times in a row, `ms` apart; returns it. */
export async function settledValue(read: () => number, times = 6, ms = 50): Promise<number> {
  let last = read();
  let same = 0;
  for (let i = 0; i < 400 && same < times; i++) {
    await new Promise((r) => setTimeout(r, ms));
    const now = read();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}
