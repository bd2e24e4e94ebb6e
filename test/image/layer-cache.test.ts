// The layer digest cache (src/build/layer-cache.ts): a tree seen before becomes a known blob with the
// digest its bytes really have; anything that changes the bytes is a different key; a corrupt cache
// is a miss, never a crash; a tree changed between the hash pass and the write is a coded error.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Layer } from '../../src/layer/layer.js';
import { nativeEngine } from '../../src/engine/native-engine.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { Image } from '../../src/image/image.js';
import { writeLayout } from '../../src/layout/layout.js';
import { buildImage } from '../../src/build/build.js';
import type { Blob } from '../../src/image/types.js';
import { LayerCache, cachedDirectoryLayer, defaultLayerCacheDir, layerCacheKey, type LayerCacheKey } from '../../src/build/layer-cache.js';
import { randomBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';

const tmp = tempDir('fastlayer-layer-cache-');
after(() => tmp.remove());
let n = 0;

function tree(): string {
  const dir = join(tmp.path, `tree${++n}`);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(join(dir, 'bin', 'app'), randomBytes(400_000, n));
  writeFileSync(join(dir, 'README'), 'hello\n'.repeat(5000));
  return dir;
}

function cacheDir(): string {
  return join(tmp.path, `cache${++n}`);
}

async function drain(blob: Blob): Promise<{ digest: string; size: number }> {
  const stream = blob.kind === 'streaming' ? blob.layer.compressed() : blob.open();
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** First pass of a cached layer, consumed to its end (as a push would), with the entry written. */
async function prime(dir: string, cache: LayerCache, level = 1): Promise<{ digest: string; size: number; diffID: string }> {
  const blob = await cachedDirectoryLayer(dir, { mtime: 0 }, { compressionLevel: level, cache });
  assert.equal(blob.kind, 'streaming', 'a cold cache misses');
  const got = await drain(blob);
  const v = await (blob as { layer: Layer }).layer.done;
  await cache.settled();
  assert.equal(got.digest, v.digest.toString());
  return { ...got, diffID: v.diffID.toString() };
}

/** A fresh tree primed into a fresh cache, and the path of its one entry file (to corrupt). */
async function primedEntry(): Promise<{ dir: string; cache: LayerCache; first: Awaited<ReturnType<typeof prime>>; path: string }> {
  const dir = tree();
  const cache = new LayerCache(cacheDir());
  const first = await prime(dir, cache);
  const [name] = entries(cache.dir);
  return { dir, cache, first, path: join(cache.dir, name!) };
}

function entries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
}

describe('layer cache', () => {
  it('a tree hashed before becomes a known blob with the digest, size and diffID its bytes really have', async () => {
    const dir = tree();
    const cache = new LayerCache(cacheDir());
    const first = await prime(dir, cache);
    assert.equal(entries(cache.dir).length, 1);
    const blob = await cachedDirectoryLayer(dir, { mtime: 0 }, { compressionLevel: 1, cache });
    assert.equal(blob.kind, 'known');
    if (blob.kind !== 'known') return;
    assert.equal(blob.descriptor.digest, first.digest);
    assert.equal(blob.descriptor.size, first.size);
    assert.equal(blob.diffID, first.diffID);
    // open() makes the bytes again, every time it is called (a retried upload calls it twice).
    assert.deepEqual(await drain(blob), { digest: first.digest, size: first.size });
    assert.deepEqual(await drain(blob), { digest: first.digest, size: first.size });
  });

  it('a changed file is a miss (a new streaming layer), recorded under its own key', async () => {
    const dir = tree();
    const cache = new LayerCache(cacheDir());
    const first = await prime(dir, cache);
    writeFileSync(join(dir, 'README'), 'changed\n');
    const second = await prime(dir, cache);
    assert.notEqual(second.digest, first.digest);
    assert.equal(entries(cache.dir).length, 2);
  });

  it('the key differs for every input of the bytes: level, compression, media type, engine; not for threads', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    const key = (o: ConstructorParameters<typeof Layer>[1]): LayerCacheKey => layerCacheKey(new Layer(Buffer.from('x'), o), d);
    const same = (a: LayerCacheKey, b: LayerCacheKey): boolean => JSON.stringify(a) === JSON.stringify(b);
    const base = key({ compressionLevel: 1, engine: 'js' });
    assert.ok(same(base, key({ compressionLevel: 1, engine: 'js', threads: 3 })), 'threads do not change the bytes');
    assert.ok(!same(base, key({ compressionLevel: 6, engine: 'js' })), 'level');
    assert.ok(!same(base, key({ compressionLevel: 1, engine: 'js', compression: 'none' })), 'compression');
    assert.ok(!same(base, key({ compressionLevel: 1, engine: 'js', mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' })), 'media type');
    assert.ok(!same(base, layerCacheKey(new Layer(Buffer.from('x'), { compressionLevel: 1, engine: 'js' }), `sha256:${'b'.repeat(64)}`)), 'diffID');
    if (nativeEngine) assert.ok(!same(base, key({ compressionLevel: 1, engine: 'native' })), 'engine');
    assert.ok(base.format >= 1 && typeof base.details.sha256 === 'string', 'the format version and the engine details are in the key');
  });

  it('an entry for another level is not used: another level misses, and each level gets its own entry', async () => {
    const dir = tree();
    const cache = new LayerCache(cacheDir());
    const one = await prime(dir, cache, 1);
    const nine = await prime(dir, cache, 9);
    assert.equal(one.diffID, nine.diffID);
    assert.equal(entries(cache.dir).length, 2);
    const hit = await cachedDirectoryLayer(dir, { mtime: 0 }, { compressionLevel: 9, cache });
    assert.equal(hit.kind === 'known' && hit.descriptor.digest, nine.digest);
  });

  it('hazard: corrupt, foreign, truncated or mis-named cache files are misses, not crashes, and are replaced', async () => {
    const { dir, cache, first, path } = await primedEntry();
    const good = readFileSync(path, 'utf8');
    const other = JSON.parse(good) as { key: unknown[] };
    other.key[2] = 5;
    const corruptions: [string, () => void][] = [
      ['garbage', () => writeFileSync(path, '\u0000\u00ff not json')],
      ['truncated', () => writeFileSync(path, good.slice(0, good.length / 2))],
      ['empty', () => writeFileSync(path, '')],
      ['wrong digest', () => writeFileSync(path, good.replace(/sha256:[0-9a-f]{64}"/g, (m) => (m.includes(first.digest.slice(7)) ? 'sha256:xyz"' : m)))],
      ['another key under this name', () => writeFileSync(path, JSON.stringify(other))],
      ['negative size', () => writeFileSync(path, good.replace(/"size":\d+/, '"size":-1'))],
      ['a directory', () => mkdirSync(path)],
      ['a symlink to a good entry', () => {
        writeFileSync(join(tmp.path, 'elsewhere.json'), good);
        symlinkSync(join(tmp.path, 'elsewhere.json'), path);
      }],
      ['huge', () => writeFileSync(path, good + ' '.repeat(64 * 1024))],
    ];
    for (const [what, corrupt] of corruptions) {
      rmSync(path, { recursive: true, force: true });
      corrupt();
      const blob = await cachedDirectoryLayer(dir, { mtime: 0 }, { compressionLevel: 1, cache });
      assert.equal(blob.kind, 'streaming', `${what}: a miss`);
      if (what === 'a directory') {
        // A directory under the entry's name cannot be replaced by a rename: the layer still works.
        assert.equal((await drain(blob)).digest, first.digest);
        await cache.settled();
        continue;
      }
      await drain(blob);
      await cache.settled();
      const again = await cachedDirectoryLayer(dir, { mtime: 0 }, { compressionLevel: 1, cache });
      assert.equal(again.kind === 'known' && again.descriptor.digest, first.digest, `${what}: the entry was written again`);
    }
  });

  it('hazard: a layer that fails (aborted mid-stream) records nothing', async () => {
    const dir = tree();
    const cache = new LayerCache(cacheDir());
    const ac = new AbortController();
    const blob = await cachedDirectoryLayer(dir, { mtime: 0 }, { compressionLevel: 1, cache, signal: ac.signal });
    assert.equal(blob.kind, 'streaming');
    const stream = (blob as { layer: Layer }).layer.compressed();
    await assert.rejects(async () => {
      for await (const _ of stream) ac.abort(new Error('stop'));
    }, /stop/);
    await cache.settled();
    assert.deepEqual(entries(cache.dir), []);
  });

  it('hazard: a tree changed between the hash pass and the write fails with a coded digest error, no image written', async () => {
    const dir = tree();
    const cache = new LayerCache(cacheDir());
    await prime(dir, cache);
    const blob = await cachedDirectoryLayer(dir, { mtime: 0 }, { compressionLevel: 1, cache });
    assert.equal(blob.kind, 'known');
    writeFileSync(join(dir, 'bin', 'app'), randomBytes(400_000, 999));
    const out = join(tmp.path, `layout${++n}`);
    await assert.rejects(writeLayout(new Image({ layers: [blob] }), out, { names: ['x/y:1'] }), { code: 'ERR_DIGEST_MISMATCH' });
    assert.ok(!existsSync(join(out, 'index.json')) || !readFileSync(join(out, 'index.json'), 'utf8').includes('x/y'), 'no name points at the image');
    await cache.settled();
    assert.equal(entries(cache.dir).length, 1, 'the entry of the unchanged tree is not the wrong one: it stays');
  });

  it('hazard: a well-formed but wrong entry fails one write, is removed, and the next build makes the layer again', async () => {
    const { dir, cache, first, path } = await primedEntry();
    writeFileSync(path, readFileSync(path, 'utf8').replace(first.digest, `sha256:${'d'.repeat(64)}`));
    const blob = await cachedDirectoryLayer(dir, { mtime: 0 }, { compressionLevel: 1, cache });
    assert.equal(blob.kind === 'known' && blob.descriptor.digest, `sha256:${'d'.repeat(64)}`, 'the wrong entry is a hit');
    await assert.rejects(writeLayout(new Image({ layers: [blob] }), join(tmp.path, `layout${++n}`), { names: ['x/y:1'] }), { code: 'ERR_DIGEST_MISMATCH' });
    await cache.settled();
    assert.deepEqual(entries(cache.dir), [], 'the wrong entry is gone');
    const again = await cachedDirectoryLayer(dir, { mtime: 0 }, { compressionLevel: 1, cache });
    assert.equal(again.kind, 'streaming', 'a miss: the layer is made again');
    assert.equal((await drain(again)).digest, first.digest);
  });

  it('stays bounded: beyond maxEntries the least recently used entries are removed', async () => {
    const cache = new LayerCache(cacheDir(), { maxEntries: 5 });
    const key = (i: number): LayerCacheKey => ({ diffID: `sha256:${i.toString(16).padStart(64, '0')}`, compression: 'gzip', level: 1, mediaType: 'm', format: 1, engine: 'js', details: {} });
    for (let i = 0; i < 12; i++) await cache.set(key(i), { digest: `sha256:${'c'.repeat(64)}`, size: i });
    assert.ok(entries(cache.dir).length <= 5, `${entries(cache.dir).length} entries`);
    assert.deepEqual(await cache.get(key(11)), { digest: `sha256:${'c'.repeat(64)}`, size: 11 }, 'the newest is kept');
    assert.equal(await cache.get(key(0)), undefined, 'the oldest is gone');
    assert.throws(() => new LayerCache(cacheDir(), { maxEntries: 0 }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    await assert.rejects(cache.set(key(1), { digest: 'md5:x', size: 1 }), { code: 'ERR_INVALID_OPTION' });
  });

  it('hazard: a cache in a shared directory (--layer-cache-dir /tmp) removes only its own stale temp files and entries', async () => {
    const dir = cacheDir();
    mkdirSync(dir, { recursive: true });
    const entryName = `${'e'.repeat(64)}.json`;
    const ours = `${entryName}.4242.0123456789ab.tmp`;
    const theirs = ['thesis-draft.tmp', 'db-dump.tmp', `${entryName}.tmp`, `${'e'.repeat(64)}.json.1.x.tmp`, 'notes.json'];
    for (const name of [ours, ...theirs]) writeFileSync(join(dir, name), 'data');
    // A temp-named directory and a temp-named symlink: not files set() writes.
    mkdirSync(join(dir, `${entryName}.7.aaaaaaaaaaaa.tmp`));
    symlinkSync(join(dir, 'notes.json'), join(dir, `${entryName}.8.bbbbbbbbbbbb.tmp`));
    const old = new Date(Date.now() - 3 * 60 * 60 * 1000);
    for (const name of readdirSync(dir)) utimesSync(join(dir, name), old, old);
    const cache = new LayerCache(dir, { maxEntries: 5 });
    const key: LayerCacheKey = { diffID: `sha256:${'1'.repeat(64)}`, compression: 'gzip', level: 1, mediaType: 'm', format: 1, engine: 'js', details: {} };
    await cache.set(key, { digest: `sha256:${'c'.repeat(64)}`, size: 1 });
    const left = readdirSync(dir);
    assert.ok(!left.includes(ours), 'a stale temp file of the cache is removed');
    for (const name of [...theirs, `${entryName}.7.aaaaaaaaaaaa.tmp`, `${entryName}.8.bbbbbbbbbbbb.tmp`]) assert.ok(left.includes(name), `${name} is left alone`);
    assert.equal(readFileSync(join(dir, 'thesis-draft.tmp'), 'utf8'), 'data');
  });

  it('a cache directory that cannot be written is skipped: the layer still works', async () => {
    const file = join(tmp.path, `not-a-dir${++n}`);
    writeFileSync(file, 'x');
    const cache = new LayerCache(join(file, 'sub'));
    const blob = await cachedDirectoryLayer(tree(), { mtime: 0 }, { compressionLevel: 1, cache });
    assert.equal(blob.kind, 'streaming');
    await drain(blob);
    await cache.settled();
  });

  it('buildImage: off unless asked; layerCache: true uses $XDG_CACHE_HOME/fastlayer/layers; same image either way', async () => {
    const dir = tree();
    const xdg = join(tmp.path, `xdg${++n}`);
    const saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = xdg;
    try {
      const cacheAt = defaultLayerCacheDir();
      assert.equal(cacheAt, join(xdg, 'fastlayer', 'layers'));
      const spec = { layers: [dir], mtime: '0', tags: ['app:1'], compressionLevel: 1 };
      const plain = await buildImage({ ...spec, ociDir: join(tmp.path, `o${++n}`) });
      assert.deepEqual(entries(cacheAt), [], 'no cache without the option');
      const cold = await buildImage({ ...spec, ociDir: join(tmp.path, `o${++n}`), layerCache: true });
      assert.equal(entries(cacheAt).length, 1);
      const warm = await buildImage({ ...spec, ociDir: join(tmp.path, `o${++n}`), layerCache: true });
      assert.equal(cold.digest, plain.digest);
      assert.equal(warm.digest, plain.digest);
      const own = join(tmp.path, `own${++n}`);
      await buildImage({ ...spec, ociDir: join(tmp.path, `o${++n}`), layerCache: own });
      assert.equal(entries(own).length, 1, 'a directory given is used');
      await assert.rejects(buildImage({ ...spec, ociDir: join(tmp.path, `o${++n}`), layerCache: 7 as unknown as string }), { code: 'ERR_INVALID_OPTION' });
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  });
});

// Keeps tarDirectory's import meaningful for readers: the cached layer is exactly tarDirectory's bytes.
it('a cached layer of a directory has the bytes of a plain Layer of tarDirectory with the same options', async () => {
  const dir = tree();
  const plain = new Layer(tarDirectory(dir, { mtime: 0 }), { compressionLevel: 1 });
  const got = await drain({ kind: 'streaming', layer: plain });
  const cache = new LayerCache(cacheDir());
  const first = await prime(dir, cache);
  assert.equal(first.digest, got.digest);
});
