// eStargz input the writer must refuse rather than turn into a complete-looking layer: the writer
// parses the tar (plain gzip and zstd layers pass bytes through), so what readTar refuses it refuses.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { estargzLayer, type EstargzOptions } from '../../src/estargz/index.js';
import { entryHeader, padding, trailer } from '../../src/tar/header.js';

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
