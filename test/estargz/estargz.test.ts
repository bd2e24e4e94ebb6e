// eStargz blobs parsed back as a lazy reader would: the footer names the TOC, the TOC names each
// chunk's member, and each chunk inflated alone matches its chunkDigest; the whole blob gunzipped is
// one tar with the source's entries. Same bytes for every run, thread count and source chunking.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { estargzLayer, readToc, type EstargzOptions, type EstargzResult, type EstargzStats, type TocEntry } from '../../src/estargz/index.js';
import { FOOTER_SIZE } from '../../src/estargz/toc.js';
import { estargzChunks } from '../../src/estargz/writer.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { readTar } from '../../src/tar/reader.js';
import { entryHeader, padding, trailer } from '../../src/tar/header.js';
import { semiCompressible } from '../helpers/data.js';
import { MemberQueue } from '../../src/estargz/members.js';
import { selectEngine } from '../../src/engine/engines.js';
import { nativeGzipMembers } from '../../src/engine/native-engine.js';
import { BLOCK_SIZE } from '../../src/engine/format.js';

const sha = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
let dir: string;
let tar: Buffer;

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function* pieces(b: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function build(source: Buffer | AsyncIterable<Uint8Array>, options?: EstargzOptions): Promise<{ blob: Buffer; r: EstargzResult; stats: EstargzStats }> {
  const l = estargzLayer(Buffer.isBuffer(source) ? pieces(source, 65536) : source, options);
  assert.equal(l.stats.hashSeconds, undefined, 'stats before the end');
  const blob = await collect(l.stream);
  return { blob, r: await l.done, stats: l.stats };
}

async function entries(t: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const e of readTar(t)) out.set(e.header.name, await collect(e.body));
  return out;
}

/** Everything a reader relies on, checked; returns the TOC entries. */
async function verify(blob: Buffer, r: EstargzResult, source: Buffer): Promise<TocEntry[]> {
  assert.equal(r.digest, sha(blob));
  assert.equal(r.size, blob.length);
  const whole = gunzipSync(blob);
  assert.equal(r.diffID, sha(whole));
  assert.equal(r.uncompressedSize, whole.length);
  const s = await readToc(async (o, n) => blob.subarray(o, o + n), blob.length);
  const tocTar = gunzipSync(blob.subarray(s.tocOffset, blob.length - FOOTER_SIZE));
  const json = (await entries(tocTar)).get('stargz.index.json')!;
  assert.equal(r.tocDigest, sha(json));
  // Members start where chunks start; each ends where the next begins (the last at the TOC).
  const starts = [...new Set(s.toc.entries.filter((e) => e.offset !== undefined).map((e) => e.offset!))].sort((a, b) => a - b);
  const files = await entries(whole);
  const src = await entries(source);
  for (const [name, data] of src) assert.deepEqual(files.get(name), data, name);
  for (const e of s.toc.entries) {
    if (e.chunkDigest === undefined) continue;
    const at = starts.indexOf(e.offset!);
    const member = gunzipSync(blob.subarray(e.offset!, starts[at + 1] ?? s.tocOffset));
    const reg = s.toc.entries.find((x) => x.name === e.name && x.type === 'reg')!;
    const length = e.chunkSize ?? reg.size! - (e.chunkOffset ?? 0);
    assert.equal(sha(member.subarray(0, length)), e.chunkDigest, `${e.name} chunk at ${e.chunkOffset ?? 0}`);
    assert.deepEqual(member.subarray(0, length), files.get(e.name)!.subarray(e.chunkOffset ?? 0, (e.chunkOffset ?? 0) + length));
    if (e.type === 'reg') assert.equal(e.digest, sha(files.get(e.name)!));
  }
  return s.toc.entries;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fastlayer-estargz-'));
  mkdirSync(join(dir, 'app/lib'), { recursive: true });
  mkdirSync(join(dir, 'etc'));
  writeFileSync(join(dir, 'app/big.bin'), semiCompressible(300_000, 3));
  writeFileSync(join(dir, 'app/lib/a.js'), 'console.log("a")\n'.repeat(50));
  writeFileSync(join(dir, 'app/empty'), '');
  writeFileSync(join(dir, 'etc/exact'), semiCompressible(65536, 5));
  writeFileSync(join(dir, 'etc/motd'), 'hello\n');
  symlinkSync('../etc/motd', join(dir, 'app/motd'));
  tar = await collect(tarDirectory(dir));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('eStargz blob structure', () => {
  it('footer, TOC, every chunk and the whole gunzipped tar check out (default chunk size)', async () => {
    const { blob, r } = await build(tar);
    const toc = await verify(blob, r, tar);
    assert.equal(toc[0]!.name, '.no.prefetch.landmark');
    assert.equal(r.landmark, '.no.prefetch.landmark');
    const link = toc.find((e) => e.name === 'app/motd')!;
    assert.deepEqual([link.type, link.linkName, link.offset, link.digest], ['symlink', '../etc/motd', undefined, undefined]);
    assert.match(link.modtime!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(toc.filter((e) => e.type === 'chunk').length, 0);
    const names = [...(await entries(gunzipSync(blob))).keys()];
    assert.equal(names[0], '.no.prefetch.landmark');
    assert.equal(names[names.length - 1], 'stargz.index.json');
  });

  for (const chunkSize of [512, 1000, 65536, 65537, 299_999]) {
    it(`chunk size ${chunkSize}: chunks cover each file exactly`, async () => {
      const { blob, r } = await build(tar, { chunkSize });
      const toc = await verify(blob, r, tar);
      const big = toc.filter((e) => e.name === 'app/big.bin');
      assert.equal(big.length, Math.ceil(300_000 / chunkSize));
      assert.equal(r.chunks, toc.filter((e) => e.chunkDigest !== undefined).length);
    });
  }

  it('prioritised files come first, with their directories, then the prefetch landmark', async () => {
    const { blob, r } = await build(tar, { prioritize: ['/etc/motd', './app/lib/a.js'] });
    const toc = await verify(blob, r, tar);
    const names = toc.map((e) => e.name);
    const landmark = names.indexOf('.prefetch.landmark');
    assert.ok(landmark > 0);
    for (const n of ['etc', 'etc/motd', 'app', 'app/lib', 'app/lib/a.js']) assert.ok(names.indexOf(n) < landmark, n);
    assert.ok(names.indexOf('app/big.bin') > landmark);
    assert.equal(r.landmark, '.prefetch.landmark');
  });
});

describe('eStargz bytes depend only on the input and the options', () => {
  it('same digest twice; threads 1 and 16; any source chunking; js and native engines agree on structure', async () => {
    const a = await build(tar, { threads: 1, chunkSize: 4096 });
    const b = await build(tar, { threads: 16, chunkSize: 4096 });
    const c = await build(pieces(tar, 777), { threads: 3, chunkSize: 4096 });
    const d = await build(tar, { threads: 1, chunkSize: 4096 });
    assert.ok(a.blob.equals(b.blob));
    assert.ok(a.blob.equals(c.blob));
    assert.equal(a.r.digest, d.r.digest);
    const js = await build(tar, { engine: 'js', chunkSize: 4096, compressionLevel: 6 });
    await verify(js.blob, js.r, tar);
    assert.equal(js.r.diffID.length, a.r.diffID.length);
    // The in-order hash stage's busy time: the native calls' (when they ran), none with the js engine.
    assert.equal(js.stats.hashSeconds, undefined);
    if (nativeGzipMembers() !== undefined) {
      const { hashSeconds, inputHashSeconds, blobHashSeconds } = a.stats;
      assert.ok(hashSeconds! > 0 && hashSeconds! < 60, `hashSeconds ${hashSeconds}`);
      // Two stages, input and blob: the busier one is the bound.
      assert.ok(inputHashSeconds! > 0 && blobHashSeconds! > 0, `${inputHashSeconds} ${blobHashSeconds}`);
      assert.equal(hashSeconds, Math.max(inputHashSeconds!, blobHashSeconds!));
    }
  });

  it('levels 0, 1 and 9 all verify', async () => {
    for (const compressionLevel of [0, 1, 9]) {
      const { blob, r } = await build(tar, { compressionLevel, chunkSize: 50_000 });
      await verify(blob, r, tar);
    }
  });
});

describe('eStargz hostile options and input', () => {
  const bad: [string, unknown, string][] = [
    ['chunkSize 0', { chunkSize: 0 }, 'ERR_OPTION_OUT_OF_RANGE'],
    ['chunkSize 1.5', { chunkSize: 1.5 }, 'ERR_OPTION_OUT_OF_RANGE'],
    ['chunkSize huge', { chunkSize: 2 ** 40 }, 'ERR_OPTION_OUT_OF_RANGE'],
    ['chunkSize string', { chunkSize: '4M' }, 'ERR_INVALID_OPTION'],
    ['threads 0', { threads: 0 }, 'ERR_OPTION_OUT_OF_RANGE'],
    ['level 10', { compressionLevel: 10 }, 'ERR_OPTION_OUT_OF_RANGE'],
    ['prioritize not a list', { prioritize: 'a' }, 'ERR_INVALID_OPTION'],
    ['prioritize ..', { prioritize: ['../etc/passwd'] }, 'ERR_OPTION_OUT_OF_RANGE'],
    ['prioritize root', { prioritize: ['/'] }, 'ERR_OPTION_OUT_OF_RANGE'],
    ['unknown option', { chunk: 1 }, 'ERR_INVALID_OPTION'],
    ['options not an object', 7, 'ERR_INVALID_OPTION'],
  ];
  for (const [what, options, code] of bad) {
    it(`${what}: ${code}`, () => {
      assert.throws(() => estargzLayer(pieces(tar, 512), options as EstargzOptions), { code });
    });
  }

  // Readable.from on Node >= 24 throws a destroy's reason into the generator (Node 20 and 22 call
  // return()), and Node 24's V8 answers a throw() delegated by yield* to an array's iterator with
  // "The iterator does not provide a 'throw' method" instead of the reason. This fails on Node >= 24
  // (the CI's Node-version step) if a yield* over an array comes back; Node 20's V8 passes it.
  it('hazard: an error thrown into the blob generator at any point comes back unchanged', async () => {
    for (const options of [{ chunkSize: 65536 }, { prioritize: ['/etc/motd'] }] as EstargzOptions[]) {
      let yields = 0;
      for await (const _ of estargzChunks(pieces(tar, 4096), options, () => {})) yields++;
      assert.ok(yields >= 2, `${yields} yields`);
      for (let at = 1; at <= yields; at++) {
        const g = estargzChunks(pieces(tar, 4096), options, () => {});
        for (let i = 0; i < at; i++) assert.equal((await g.next()).done, false);
        await assert.rejects(g.throw(new Error(`stop now at ${at}`)), { message: `stop now at ${at}` });
      }
    }
  });

  // The writer holds chunks until a native call reads them on its worker thread: a foreign source's
  // chunks are copied first, as a source may write over a chunk once it is handed on.
  it('hazard: a source that writes over each chunk once it is handed on still gives its tar', async () => {
    async function* reusing(b: Buffer, size: number): AsyncGenerator<Buffer> {
      const buf = Buffer.alloc(size);
      for (let i = 0; i < b.length; i += size) {
        const n = b.copy(buf, 0, i, i + size);
        yield buf.subarray(0, n);
        buf.fill(0xa5);
      }
    }
    const options = { chunkSize: 65536 };
    const { blob, r } = await build(reusing(tar, 4096), options);
    await verify(blob, r, tar);
    assert.equal(r.digest, (await build(tar, options)).r.digest);
  });

  it("tarDirectory's chunks (marked fresh) are kept without a copy; a foreign source's are copied; the blob is the same", async () => {
    const from = Buffer.from;
    let copies = 0;
    // Buffer.from(uint8array) in the tar splitter is the writer's copy; the view form (three
    // arguments) is not, nor tarDirectory's own copies while it makes headers.
    Buffer.from = function (this: unknown, ...a: unknown[]) {
      if (a.length === 1 && a[0] instanceof Uint8Array && new Error().stack!.split('\n')[2]!.includes('tar-split')) copies++;
      return (from as (...x: unknown[]) => Buffer).apply(this, a);
    } as typeof Buffer.from;
    // Read here without Buffer.from (collect() copies each chunk of the blob).
    const blobOf = async (source: AsyncIterable<Uint8Array>): Promise<{ blob: Buffer; r: EstargzResult }> => {
      const l = estargzLayer(source);
      const parts: Buffer[] = [];
      for await (const c of l.stream) parts.push(c as Buffer);
      return { blob: Buffer.concat(parts), r: await l.done };
    };
    let own: { blob: Buffer; r: EstargzResult };
    let foreign: { blob: Buffer; r: EstargzResult };
    let ownCopies: number;
    try {
      own = await blobOf(tarDirectory(dir));
      ownCopies = copies;
      copies = 0;
      foreign = await blobOf(pieces(tar, 4096));
    } finally {
      Buffer.from = from;
    }
    assert.equal(ownCopies, 0);
    assert.equal(copies, Math.ceil(tar.length / 4096));
    assert.ok(own.blob.equals(foreign.blob));
    await verify(own.blob, own.r, tar);
  });

  it('a truncated tar, or one naming stargz.index.json itself, fails the stream with ERR_TAR_INVALID', async () => {
    await assert.rejects(build(tar.subarray(0, 1536 + 100)), { code: 'ERR_TAR_INVALID' });
    const own = Buffer.concat([
      entryHeader({ name: Buffer.from('stargz.index.json'), type: '0', mode: 0o644, size: 2, mtime: 0, uid: 0, gid: 0, uname: '', gname: '' }),
      Buffer.from('{}'), padding(2), trailer(),
    ]);
    await assert.rejects(build(own), { code: 'ERR_TAR_INVALID' });
  });

  it('a tar cut anywhere inside an entry fails with ERR_TAR_INVALID, whatever pieces the source yields', async () => {
    // Cuts that are never on a block boundary, up to the last byte of data: each one falls in a header
    // or in a file's data, taken as views of several source pieces (no clean end is possible).
    let last = tar.length - 1;
    while (last > 0 && tar[last] === 0) last--;
    let cuts = 0;
    for (let at = 1; at <= last; at += 7919) {
      for (const size of [1000, 65536]) {
        await assert.rejects(build(pieces(tar.subarray(0, at), size)), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'ERR_TAR_INVALID', `cut at ${at} in pieces of ${size}: ${err.message}`);
          assert.match(err.message, /ends inside/);
          return true;
        });
        cuts++;
      }
    }
    assert.ok(cuts >= 20, `only ${cuts} cuts: the test tree is smaller than expected`);
  });

  it('prioritised files beyond the buffer cap: ERR_ESTARGZ_PRIORITIZE', async () => {
    await assert.rejects(build(tar, { prioritize: ['nothing/here'], prioritizeBuffer: 1000 }), { code: 'ERR_ESTARGZ_PRIORITIZE' });
  });

  it('a blob whose footer or TOC is damaged: ERR_ESTARGZ_INVALID', async () => {
    const { blob } = await build(tar);
    const read = (b: Buffer) => async (o: number, n: number) => b.subarray(o, o + n);
    const cut = blob.subarray(0, blob.length - 1);
    await assert.rejects(readToc(read(cut), cut.length), { code: 'ERR_ESTARGZ_INVALID' });
    const moved = Buffer.from(blob);
    moved.write('0000000000000001', blob.length - FOOTER_SIZE + 16, 'latin1');
    await assert.rejects(readToc(read(moved), moved.length), { code: 'ERR_ESTARGZ_INVALID' });
    await assert.rejects(readToc(read(Buffer.alloc(10)), 10), { code: 'ERR_ESTARGZ_INVALID' });
  });
});

describe('eStargz members: one native call for many members gives the bytes of one engine per member', () => {
  it('batched and unbatched queues agree for empty, small, unit-sized and multi-unit members, at levels 0, 1, 6', async (t) => {
    const factory = selectEngine('native', { level: 1, compression: 'gzip' });
    if (factory.name !== 'native' || nativeGzipMembers() === undefined) return t.skip('the native addon with gzipMembers is not loaded');
    const sizes = [0, 1, 2, 100, 5000, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1, 3 * BLOCK_SIZE + 12345, 40_000];
    for (const level of [0, 1, 6]) {
      const run = async (batch: boolean, threads: number) => {
        const q = new MemberQueue(selectEngine('native', { level, compression: 'gzip' }), level, threads, 2, 1 << 30, batch);
        const out: Buffer[] = [];
        for (const [i, n] of sizes.entries()) {
          const data = semiCompressible(n, i + 1);
          out.push(...(await q.push([data.subarray(0, n >> 1), data.subarray(n >> 1)], n)));
        }
        for await (const m of q.drain()) out.push(m);
        // A batch hands its members on as one buffer: cut the bytes back into members by their sizes.
        const bytes = Buffer.concat(out);
        assert.equal(q.sizes.length, sizes.length);
        let at = 0;
        return q.sizes.map((n) => bytes.subarray(at, (at += n)));
      };
      const one = await run(false, 1);
      const batched = await run(true, 1);
      const batched4 = await run(true, 4);
      assert.equal(one.length, sizes.length);
      for (let i = 0; i < sizes.length; i++) {
        assert.ok(batched[i]!.equals(one[i]!), `level ${level}, member of ${sizes[i]} bytes`);
        assert.ok(batched4[i]!.equals(one[i]!), `level ${level}, member of ${sizes[i]} bytes, 4 threads`);
        assert.equal(gunzipSync(one[i]!).length, sizes[i]);
      }
    }
  });

  it('chunk and file digests: files of several chunks across batches, hashed on the native calls (batched) or here (one engine per member), agree with their bytes', async (t) => {
    const sha = (...b: Buffer[]) => {
      const h = createHash('sha256');
      for (const x of b) h.update(x);
      return `sha256:${h.digest('hex')}`;
    };
    // Files as chunk lengths: a one-chunk file, a file of five 300 KB chunks (more than one batch of
    // 1 MiB), a file with a chunk of odd length first, a file of two small chunks. Each member is its
    // chunk plus 512 bytes (padding and the next headers).
    const files = [[4000], [300 * 1024, 300 * 1024, 300 * 1024, 300 * 1024, 1000], [1001, 4096], [100, 7]];
    const native = nativeGzipMembers() !== undefined;
    const run = async (batch: boolean, threads: number) => {
      const q = new MemberQueue(selectEngine(native ? 'native' : 'js', { level: 1, compression: 'gzip' }), 1, threads, 2, 1 << 30, batch);
      const got: { chunks: string[]; file?: string }[] = files.map(() => ({ chunks: [] }));
      let seed = 1;
      const want = files.map((chunks, f) => {
        const data = chunks.map((n) => semiCompressible(n, seed++));
        return { data, chunks: data.map((d) => sha(d)), file: chunks.length > 1 ? sha(...data) : undefined, f };
      });
      for (const w of want) {
        const n = w.data.length;
        for (const [k, d] of w.data.entries()) {
          const file = n === 1 ? undefined : { first: k === 0, last: k === n - 1, set: (v: string) => (got[w.f]!.file = v) };
          await q.push([d, Buffer.alloc(512, k)], d.length + 512, { length: d.length, set: (v) => (got[w.f]!.chunks[k] = v), file });
        }
      }
      for await (const _ of q.drain()) void _;
      assert.deepEqual(got, want.map((w) => ({ chunks: w.chunks, ...(w.file ? { file: w.file } : {}) })), `batch ${batch}, threads ${threads}`);
      const { digest, diffID } = q.digests(Buffer.alloc(0));
      return { digest, diffID };
    };
    const one = await run(false, 1);
    if (!native) return t.skip('the native addon with gzipMembers is not loaded (the unbatched queue was checked)');
    assert.deepEqual(await run(true, 1), one);
    assert.deepEqual(await run(true, 4), one);
  });
});
