// Format v1 (docs/DESIGN.md): constants shared with native/core/format.h, exact level-0 bytes, and
// identical js/native output wherever the format fixes the bytes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BLOCK_SIZE, FORMAT_VERSION, GZIP_HEADER, WINDOW_SIZE } from '../../src/engine/format.js';
import { jsEngine } from '../../src/engine/js-engine.js';
import { nativeEngine } from '../../src/engine/native-engine.js';
import { crc32Table } from '../../src/engine/crc32.js';
import { compress } from '../helpers/layer.js';
import { chunked, randomBytes, semiCompressible } from '../helpers/data.js';

/** Level-0 output written straight from the DESIGN.md text, independently of src/engine/stored.ts. */
function expectedStored(input: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from(GZIP_HEADER)];
  const block = (data: Buffer, bfinal: number) => {
    const h = Buffer.alloc(5);
    h[0] = bfinal;
    h.writeUInt16LE(data.length, 1);
    h.writeUInt16LE(0xffff - data.length, 3);
    parts.push(h, data);
  };
  const fullUnits = Math.floor(input.length / BLOCK_SIZE);
  for (let u = 0; u <= fullUnits; u++) {
    const unit = input.subarray(u * BLOCK_SIZE, Math.min(input.length, (u + 1) * BLOCK_SIZE));
    const final = u === fullUnits;
    if (final && unit.length === 0) block(unit, 1);
    for (let i = 0; i < unit.length; i += 65535) {
      const piece = unit.subarray(i, i + 65535);
      block(piece, final && i + piece.length === unit.length ? 1 : 0);
    }
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32Table(input), 0);
  trailer.writeUInt32LE(input.length % 2 ** 32, 4);
  parts.push(trailer);
  return Buffer.concat(parts);
}

describe('format v1', () => {
  it('src/engine/format.ts agrees with native/core/format.h', () => {
    const header = readFileSync(new URL('../../../native/core/format.h', import.meta.url), 'utf8');
    const num = (name: string) => {
      const m = new RegExp(`${name}\\s*=\\s*([0-9* ]+);`).exec(header);
      assert.ok(m, `${name} not found in native/core/format.h`);
      return m[1]!.split('*').reduce((a, b) => a * Number(b.trim()), 1);
    };
    assert.equal(num('kFormatVersion'), FORMAT_VERSION);
    assert.equal(num('kBlockSize'), BLOCK_SIZE);
    assert.equal(num('kWindowSize'), WINDOW_SIZE);
    const bytes = /kGzipHeader\[10\]\s*=\s*\{([^}]*)\}/.exec(header)![1]!.split(',').map((s) => Number(s.trim()));
    assert.deepEqual(bytes, [...GZIP_HEADER]);
  });

  for (const size of [0, 1, 65535, 65536, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1, 2 * BLOCK_SIZE + 70_000]) {
    it(`level 0 of ${size} bytes is exactly the stored blocks of DESIGN.md (js engine)`, async () => {
      const input = randomBytes(size, size);
      const { out } = await compress(jsEngine, chunked(input, 100_000), { compressionLevel: 0 });
      assert.ok(out.equals(expectedStored(input)));
    });
  }

  describe('js and native agree', { skip: nativeEngine ? false : 'the native addon is not loaded' }, () => {
    const inputs = [Buffer.alloc(0), Buffer.from('a'), semiCompressible(3 * BLOCK_SIZE + 123, 3), randomBytes(BLOCK_SIZE, 4)];
    it('byte for byte at level 0', async () => {
      for (const input of inputs) {
        const js = await compress(jsEngine, input, { compressionLevel: 0 });
        const native = await compress(nativeEngine!, chunked(input, 77_777), { compressionLevel: 0 });
        assert.ok(js.out.equals(native.out), `${input.length} bytes`);
        assert.ok(js.layer.digest().equals(native.layer.digest()));
      }
    });

    it("byte for byte with compression 'none'", async () => {
      for (const input of inputs) {
        const js = await compress(jsEngine, input, { compression: 'none' });
        const native = await compress(nativeEngine!, input, { compression: 'none' });
        assert.ok(js.out.equals(native.out) && js.out.equals(input));
        assert.ok(js.layer.digest().equals(native.layer.digest()));
      }
    });

    it('on diffID at every level (the compressed bytes may differ from level 1 up)', async () => {
      const input = inputs[2]!;
      for (let level = 1; level <= 9; level++) {
        const js = await compress(jsEngine, input, { compressionLevel: level });
        const native = await compress(nativeEngine!, input, { compressionLevel: level });
        assert.ok(js.layer.diffID().equals(native.layer.diffID()));
      }
    });
  });
});
