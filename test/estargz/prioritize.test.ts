// Prioritised files moved to the front of an eStargz blob: the blob must still unpack (what an entry
// needs comes before it), and the entries held meanwhile stay within prioritizeBuffer.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { estargzLayer, readToc, type EstargzOptions } from '../../src/estargz/index.js';
import { entryHeader, padding, trailer, type Entry } from '../../src/tar/header.js';
import { readTar } from '../../src/tar/reader.js';
import { semiCompressible } from '../helpers/data.js';

async function* pieces(b: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function build(tar: Buffer, options?: EstargzOptions): Promise<Buffer> {
  const l = estargzLayer(pieces(tar, 4096), options);
  const parts: Buffer[] = [];
  for await (const c of l.stream) parts.push(c as Buffer);
  await l.done;
  return Buffer.concat(parts);
}

function tarOf(entries: [name: string, type: Entry['type'], data?: Buffer | string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, type, data = Buffer.alloc(0)] of entries) {
    const link = type === '1' || type === '2';
    const body = link ? Buffer.alloc(0) : Buffer.from(data);
    parts.push(entryHeader({
      name: Buffer.from(name), type, mode: 0o644, size: body.length, mtime: 1_700_000_000, uid: 0, gid: 0, uname: '', gname: '',
      ...(link ? { linkname: Buffer.from(data) } : {}),
    }), body, padding(body.length));
  }
  parts.push(trailer());
  return Buffer.concat(parts);
}

/** The gunzipped blob's entries in order, each hard link checked to come after its target (as `tar -x` needs). */
async function unpackOrder(blob: Buffer): Promise<string[]> {
  const seen: string[] = [];
  for await (const e of readTar(gunzipSync(blob))) {
    if (e.header.type === 'link') assert.ok(seen.includes(e.header.linkname!), `${e.header.name} comes before its target ${e.header.linkname}`);
    seen.push(e.header.name);
    for await (const _ of e.body);
  }
  return seen;
}

describe('eStargz prioritised hard links', () => {
  const tar = tarOf([
    ['d/', '5'], ['d/sub/', '5'], ['d/sub/target', '0', 'the data\n'], ['other', '0', 'x'],
    ['e/', '5'], ['e/link1', '1', 'd/sub/target'], ['f/', '5'], ['f/link2', '1', 'e/link1'], ['last', '0', 'y'],
  ]);

  it('hazard: a prioritised hard link brings its target (and its directories) ahead of it, before the landmark', async () => {
    const blob = await build(tar, { prioritize: ['e/link1'] });
    const order = await unpackOrder(blob);
    assert.deepEqual(order.slice(0, order.indexOf('.prefetch.landmark')), ['d', 'd/sub', 'd/sub/target', 'e', 'e/link1']);
    const s = await readToc(async (o, n) => blob.subarray(o, o + n), blob.length);
    assert.deepEqual(s.toc.entries.slice(0, 6).map((e) => e.name), ['d', 'd/sub', 'd/sub/target', 'e', 'e/link1', '.prefetch.landmark']);
  });

  it('hazard: a chain of hard links brings every link and the target ahead, in the tar\'s order', async () => {
    const order = await unpackOrder(await build(tar, { prioritize: ['f/link2'] }));
    assert.deepEqual(order.slice(0, order.indexOf('.prefetch.landmark')), ['d', 'd/sub', 'd/sub/target', 'e', 'e/link1', 'f', 'f/link2']);
  });

  it('a target written already (prioritised itself) is not written again', async () => {
    const order = await unpackOrder(await build(tar, { prioritize: ['d/sub/target', 'e/link1'] }));
    assert.deepEqual(order.slice(0, order.indexOf('.prefetch.landmark')), ['d', 'd/sub', 'd/sub/target', 'e', 'e/link1']);
    assert.equal(order.filter((n) => n === 'd/sub/target').length, 1);
  });

  it('hazard: links to themselves or in a loop end (each held entry moves once)', async () => {
    const self = tarOf([['a', '0', 'a'], ['a', '1', 'a'], ['w', '1', 'a']]);
    const order = await unpackOrder(await build(self, { prioritize: ['w'] }));
    assert.deepEqual(order.slice(0, order.indexOf('.prefetch.landmark')), ['a', 'a', 'w']);
    // Not a tar anything unpacks (b's target comes after it), but the writer must still end.
    const loop = tarOf([['b', '1', 'c'], ['c', '1', 'b'], ['z', '1', 'b']]);
    const blob = await build(loop, { prioritize: ['z'] });
    const names = (await readToc(async (o, n) => blob.subarray(o, o + n), blob.length)).toc.entries.map((e) => e.name);
    assert.deepEqual(names, ['b', 'c', 'z', '.prefetch.landmark']);
  });
});

describe('eStargz prioritizeBuffer', () => {
  const big = semiCompressible(200_000, 7);
  const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

  it('hazard: a prioritised file larger than prioritizeBuffer is streamed through, not refused', async () => {
    const tar = tarOf([['model.bin', '0', big], ['etc/', '5'], ['etc/conf', '0', 'c']]);
    const blob = await build(tar, { prioritize: ['model.bin'], prioritizeBuffer: 10_000, chunkSize: 65536 });
    const s = await readToc(async (o, n) => blob.subarray(o, o + n), blob.length);
    assert.deepEqual(s.toc.entries.filter((e) => e.type !== 'chunk').map((e) => e.name), ['model.bin', '.prefetch.landmark', 'etc', 'etc/conf']);
    assert.equal(s.toc.entries.find((e) => e.name === 'model.bin')!.digest, sha(big));
    const files = new Map<string, Buffer>();
    for await (const e of readTar(gunzipSync(blob))) {
      const parts: Buffer[] = [];
      for await (const c of e.body) parts.push(c);
      files.set(e.header.name, Buffer.concat(parts));
    }
    assert.ok(files.get('model.bin')!.equals(big));
  });

  it('hazard: a large prioritised file after small entries is streamed too; only the entries before it count against the buffer', async () => {
    const tar = tarOf([['a/', '5'], ['a/small', '0', 'x'.repeat(3000)], ['a/model.bin', '0', big], ['z', '0', 'z']]);
    const blob = await build(tar, { prioritize: ['a/model.bin'], prioritizeBuffer: 10_000 });
    const order = await unpackOrder(blob);
    assert.deepEqual(order, ['a', 'a/model.bin', '.prefetch.landmark', 'a/small', 'z', 'stargz.index.json']);
    await assert.rejects(build(tar, { prioritize: ['a/model.bin'], prioritizeBuffer: 2000 }), { code: 'ERR_ESTARGZ_PRIORITIZE' });
  });

  it('hazard: held headers count against the buffer: empty entries with large PAX records, or many empty entries, are refused', async () => {
    const parts: Buffer[] = [];
    // Each header carries a 100 KB xattr: entryHeader writes it as a PAX record before the entry.
    const xattrs = new Map([['user.big', Buffer.alloc(100_000, 0x61)]]);
    for (let i = 0; i < 40; i++) {
      parts.push(entryHeader({ name: Buffer.from(`f${i}`), type: '0', mode: 0o644, size: 0, mtime: 0, uid: 0, gid: 0, uname: '', gname: '', xattrs }));
    }
    parts.push(trailer());
    // 40 x 100 KB of headers, no file data: held whole before, under a 1 MiB bound.
    await assert.rejects(build(Buffer.concat(parts), { prioritize: ['missing'], prioritizeBuffer: 1024 * 1024 }), { code: 'ERR_ESTARGZ_PRIORITIZE' });
    const empties = tarOf(Array.from({ length: 3000 }, (_, i) => [`e${i}`, '0'] as [string, Entry['type']]));
    await assert.rejects(build(empties, { prioritize: ['missing'], prioritizeBuffer: 1024 * 1024 }), { code: 'ERR_ESTARGZ_PRIORITIZE' });
    // The same entries within a larger bound are held and written after the landmark.
    await build(empties, { prioritize: ['missing'], prioritizeBuffer: 8 * 1024 * 1024 });
  });
});
