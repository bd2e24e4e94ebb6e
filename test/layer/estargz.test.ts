// A Layer with compression 'estargz' keeps the Layer's rules: the same bytes from every source form
// (a Buffer, a file, a stream in odd pieces), an abort rejects `done` with its reason and releases the
// source, a consumer that stops early releases it too, and a consumed layer cannot be read again.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Layer } from '../../src/layer/layer.js';
import { openSource } from '../../src/layer/source.js';
import { FileSource } from '../../src/layer/file-source.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { estargzLayer } from '../../src/estargz/writer.js';
import { ErrDestroyed } from '../../src/core/errors.js';
import { semiCompressible } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';

const tmp = tempDir('fastlayer-layer-estargz-');
after(() => tmp.remove());

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** The tar in 4 KiB pieces, 20 ms apart; released() says whether the generator was closed. */
function slowSource(bytes: Buffer): { pieces: AsyncGenerator<Buffer>; released: () => boolean } {
  let released = false;
  async function* gen(): AsyncGenerator<Buffer> {
    try {
      for (const p of pieces(bytes, 4096)) {
        await sleep(20);
        yield p;
      }
    } finally {
      released = true;
    }
  }
  return { pieces: gen(), released: () => released };
}

async function tar(): Promise<Buffer> {
  const dir = join(tmp.path, 'tree');
  mkdirSync(join(dir, 'lib'), { recursive: true });
  writeFileSync(join(dir, 'lib/a.bin'), semiCompressible(200_000, 3));
  writeFileSync(join(dir, 'b.txt'), 'b\n'.repeat(1000));
  return collect(tarDirectory(dir));
}

function pieces(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

const OPTIONS = { compression: 'estargz', estargz: { chunkSize: 8192 } } as const;

describe("Layer with compression 'estargz'", () => {
  it('gives the same blob from a Buffer, a file (fromFile), a ReadStream and 777-byte pieces', async () => {
    const bytes = await tar();
    const file = join(tmp.path, 'layer.tar');
    writeFileSync(file, bytes);
    const layers = [
      new Layer(bytes, OPTIONS),
      Layer.fromFile(file, OPTIONS),
      new Layer(createReadStream(file), OPTIONS),
      new Layer(Readable.from(pieces(bytes, 777)), { ...OPTIONS, threads: 1 }),
    ];
    const digests = [];
    for (const l of layers) {
      const blob = await collect(l.compressed());
      const v = await l.done;
      assert.equal(v.size, blob.length);
      assert.equal(l.digest().toString(), v.digest.toString());
      digests.push(v.digest.toString());
    }
    assert.equal(new Set(digests).size, 1);
  });

  // What the eStargz writer keeps without a copy (src/core/fresh-chunks.ts): only chunks their reader
  // never touches again.
  it("the readers say which chunks are fresh: a file's (until buffers are reused) and tarDirectory's, never a caller's", async () => {
    const bytes = await tar();
    const file = join(tmp.path, 'fresh.tar');
    writeFileSync(file, bytes);
    const fresh = async (source: Parameters<typeof openSource>[0], reuse = false): Promise<boolean[]> => {
      const r = openSource(source);
      if (reuse) r.reuseBuffers?.();
      const seen: boolean[] = [];
      try {
        while ((await r.next()) !== null) seen.push(r.freshChunks?.() === true);
      } finally {
        r.close();
      }
      return seen;
    };
    const every = (xs: boolean[], v: boolean) => xs.length > 0 && xs.every((x) => x === v);
    assert.ok(every(await fresh(new FileSource(file, 0, bytes.length - 1) as never), true), 'a file');
    assert.ok(every(await fresh(new FileSource(file, 0, bytes.length - 1) as never, true), false), 'a file whose buffers are reused');
    assert.ok(every(await fresh(tarDirectory(join(tmp.path, 'tree'))), true), "tarDirectory's stream");
    assert.ok(every(await fresh(createReadStream(file)), true), 'a ReadStream of a file, read through our descriptor');
    assert.ok(every(await fresh(bytes), false), 'a Buffer');
    assert.ok(every(await fresh(Readable.from(pieces(bytes, 4096))), false), 'a Readable');
    async function* wrapped(): AsyncGenerator<Buffer> {
      yield* tarDirectory(join(tmp.path, 'tree'));
    }
    assert.ok(every(await fresh(wrapped()), false), 'a generator over tarDirectory');
  });

  it('an abort mid-stream rejects done with its reason and releases the source', async () => {
    const bytes = await tar();
    const slow = slowSource(bytes);
    const controller = new AbortController();
    const layer = new Layer(slow.pieces, { ...OPTIONS, signal: controller.signal });
    const stream = layer.compressed();
    stream.once('data', () => controller.abort(new Error('stop now')));
    await assert.rejects(collect(stream), /stop now/);
    await assert.rejects(layer.done, /stop now/);
    // Well before the source could end by itself (50 pieces, 20 ms each).
    for (let i = 0; i < 30 && !slow.released(); i++) await sleep(10);
    assert.ok(slow.released(), 'the source generator was closed');
    assert.throws(() => layer.digest(), { code: 'ERR_LAYER_NOT_COMPUTED' });
  });

  it('a consumer that destroys the stream early fails done and releases the source; a second read is ErrConsumed', async () => {
    const bytes = await tar();
    const slow = slowSource(bytes);
    const layer = new Layer(slow.pieces, OPTIONS);
    const stream = layer.compressed();
    await new Promise<void>((resolve) => stream.once('data', () => resolve()));
    stream.destroy();
    await assert.rejects(layer.done);
    // Well before the source could end by itself (50 pieces, 20 ms each).
    for (let i = 0; i < 30 && !slow.released(); i++) await sleep(10);
    assert.ok(slow.released(), 'the source generator was closed');
    assert.throws(() => layer.compressed(), { code: 'ERR_LAYER_CONSUMED' });
  });

  it('hazard: destroyed early without an error, done rejects with ErrDestroyed (a coded error), as for any layer', async () => {
    const bytes = await tar();
    const destroyed = (err: unknown) => {
      assert.ok(err instanceof ErrDestroyed, `ErrDestroyed, not ${String(err)}`);
      assert.equal(err.code, 'ERR_LAYER_DESTROYED');
      return true;
    };
    // Before a byte was read, and after the first.
    for (const early of [false, true]) {
      const layer = new Layer(slowSource(bytes).pieces, OPTIONS);
      const stream = layer.compressed();
      if (early) await new Promise<void>((resolve) => stream.once('data', () => resolve()));
      stream.destroy();
      await assert.rejects(layer.done, destroyed);
      // The writer on its own (estargzLayer) says the same.
      const writer = estargzLayer(slowSource(bytes).pieces, { chunkSize: 8192 });
      if (early) await new Promise<void>((resolve) => writer.stream.once('data', () => resolve()));
      writer.stream.destroy();
      await assert.rejects(writer.done, destroyed);
    }
  });
});
