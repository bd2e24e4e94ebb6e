// eStargz input the writer must refuse rather than turn into a complete-looking layer: the writer
// parses the tar (plain gzip and zstd layers pass bytes through), so what readTar refuses it refuses.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { estargzLayer, type EstargzOptions } from '../../src/estargz/index.js';
import { gunzipSync } from 'node:zlib';
import { entryHeader, padding, paxRecord, trailer } from '../../src/tar/header.js';
import { Layer } from '../../src/layer/layer.js';

async function* pieces(b: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function build(tar: Buffer, options?: EstargzOptions): Promise<void> {
  const l = estargzLayer(pieces(tar, 65536), options);
  for await (const _ of l.stream);
  await l.done;
}

const file = (name: string, data: Buffer): Buffer => Buffer.concat([
  entryHeader({ name: Buffer.from(name), type: '0', mode: 0o644, size: data.length, mtime: 0, uid: 0, gid: 0, uname: '', gname: '' }),
  data, padding(data.length),
]);

describe('eStargz input: a stream cut at an entry boundary', () => {
  const entries = Buffer.concat([file('a', Buffer.from('aaa')), file('b', Buffer.alloc(2000, 1))]);

  it('hazard: a tar without its end-of-archive block fails with ERR_TAR_INVALID (truncated), prioritised or not', async () => {
    for (const options of [undefined, { prioritize: ['b'] }, { prioritize: ['missing'] }]) {
      await assert.rejects(build(entries, options), { code: 'ERR_TAR_INVALID', message: /without its end-of-archive block/ }, JSON.stringify(options));
    }
  });

  it('hazard: an empty stream fails with ERR_TAR_INVALID (not a tar archive)', async () => {
    await assert.rejects(build(Buffer.alloc(0)), { code: 'ERR_TAR_INVALID', message: /empty/ });
    await assert.rejects(build(Buffer.alloc(0), { prioritize: ['a'] }), { code: 'ERR_TAR_INVALID', message: /empty/ });
  });

  it('the same entries with the end-of-archive block (one zero block is enough, as for readTar) make a layer', async () => {
    await build(Buffer.concat([entries, trailer()]));
    await build(Buffer.concat([entries, Buffer.alloc(512)]));
  });

  it('hazard: a prioritised file not in a complete tar is no error (the whole tar read while looking for it)', async () => {
    await build(Buffer.concat([entries, trailer()]), { prioritize: ['missing'] });
    await build(trailer(), { prioritize: ['missing'] });
  });
});

/** A header block of another type flag, its checksum made again (entryHeader writes only '0'-'6'). */
function retyped(block: Buffer, type: string): Buffer {
  const h = Buffer.from(block);
  h.write(type, 156, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

describe('eStargz input: sparse files', () => {
  // The tar's data of a sparse file is its extents, not the file: the TOC would describe other bytes.
  const extents = Buffer.alloc(1024, 7);
  const gnu = Buffer.concat([retyped(entryHeader({ name: Buffer.from('sparse'), type: '0', mode: 0o644, size: extents.length, mtime: 0, uid: 0, gid: 0, uname: '', gname: '' }), 'S'), extents, trailer()]);
  const records = Buffer.concat([['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', 'sparse'], ['GNU.sparse.realsize', '3145732']]
    .map(([k, v]) => paxRecord(k!, Buffer.from(v!))));
  const pax = Buffer.concat([
    retyped(entryHeader({ name: Buffer.from('PaxHeaders/sparse'), type: '0', mode: 0o644, size: records.length, mtime: 0, uid: 0, gid: 0, uname: '', gname: '' }), 'x'),
    records, padding(records.length), file('GNUSparseFile.0/sparse', extents), trailer(),
  ]);

  for (const [what, tar, why] of [['GNU type S', gnu, /GNU type 'S'/], ['PAX GNU.sparse.* (1.0)', pax, /GNU\.sparse/]] as const) {
    it(`hazard: ${what} fails with ERR_TAR_INVALID naming sparse files, not a TOC of the compacted data`, async () => {
      for (const options of [undefined, { prioritize: ['sparse'] }]) {
        await assert.rejects(build(tar, options), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'ERR_TAR_INVALID');
          assert.match(err.message, why);
          assert.match(err.message, /sparse files are not supported in eStargz layers.*without -S/);
          return true;
        });
      }
    });

    it(`${what}: a plain gzip layer still passes the tar through unchanged`, async () => {
      const l = new Layer(tar, { compression: 'gzip' });
      const parts: Buffer[] = [];
      for await (const c of l.compressed()) parts.push(c as Buffer);
      await l.done;
      assert.ok(gunzipSync(Buffer.concat(parts)).equals(tar));
    });
  }
});
