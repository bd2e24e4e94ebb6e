// eStargz layers in images (compression 'estargz' through Layer and buildImage, docs/ESTARGZ.md): the
// manifest's layer descriptors carry the TOC digest and uncompressed size annotations, the config's
// diff_id is the SHA-256 of the blob's tar, the bytes depend on the tree and options only (twice the
// same, threads 1 and 8 the same), the layer cache never mixes compressions or chunk sizes, the
// image reads as an ordinary gzip image (umoci, skopeo), and options that make no sense are coded errors.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { Layer } from '../../src/layer/layer.js';
import { createGzip } from '../../src/layer/create-gzip.js';
import { LayerCompressionStream } from '../../src/layer/web-stream.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { buildImage } from '../../src/build/build.js';
import { buildNodeImage } from '../../src/build/node.js';
import { LayerCache, entryExtras, layerCacheKey, layerCacheKeyId } from '../../src/build/layer-cache.js';
import { readToc } from '../../src/estargz/reader.js';
import { ESTARGZ_TOC_DIGEST_ANNOTATION, ESTARGZ_UNCOMPRESSED_SIZE_ANNOTATION } from '../../src/core/media-types.js';
import type { Descriptor } from '../../src/image/types.js';
import { semiCompressible } from '../helpers/data.js';
import { missing, mustRun, snapshotTree } from '../helpers/image.js';
import { tempDir } from '../helpers/tree.js';

const tmp = tempDir('fastlayer-image-estargz-');
after(() => tmp.remove());
const sha = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
let n = 0;
const collect = async (source: AsyncIterable<Uint8Array>): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
};

/** Two trees: `app` (a large file, a small one) and `etc`. */
function trees(): { app: string; etc: string } {
  const root = join(tmp.path, `src${++n}`);
  mkdirSync(join(root, 'app/lib'), { recursive: true });
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'app/lib/big.bin'), semiCompressible(300_000, 7));
  writeFileSync(join(root, 'app/server.js'), 'console.log("hi")\n');
  writeFileSync(join(root, 'etc/motd'), 'hello\n');
  return { app: join(root, 'app'), etc: join(root, 'etc') };
}

interface Layout {
  manifestDigest: string;
  manifest: { layers: Descriptor[] };
  config: { rootfs: { diff_ids: string[] } };
  blob(d: Descriptor): Buffer;
}

function readLayout(dir: string): Layout {
  const blob = (digest: string): Buffer => readFileSync(join(dir, 'blobs/sha256', digest.slice(7)));
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const manifestDigest = index.manifests[0]!.digest;
  const manifest = JSON.parse(blob(manifestDigest).toString()) as Layout['manifest'] & { config: Descriptor };
  return { manifestDigest, manifest, config: JSON.parse(blob(manifest.config.digest).toString()), blob: (d) => blob(d.digest) };
}

const ESTARGZ = { compression: 'estargz' as const, estargz: { chunkSize: 65536, prioritize: ['/app/server.js'] } };

async function build(src: { app: string; etc: string }, out: string, extra: Record<string, unknown> = {}): Promise<Layout> {
  await buildImage({ layers: [`${src.app}:/app`, `${src.etc}:/etc`], tags: ['e:1'], ociDir: out, layerOptions: { ...ESTARGZ, threads: 2 }, ...extra });
  return readLayout(out);
}

describe('buildImage with compression estargz', () => {
  const src = trees();
  let first: Layout;

  it('annotates every layer descriptor, lists the blob tar\'s SHA-256 as diff_id, and prioritises the file only in the layer that holds it', async () => {
    first = await build(src, join(tmp.path, 'out1'));
    const [app, etc] = first.manifest.layers;
    assert.equal(first.manifest.layers.length, 2);
    for (const [i, d] of [app!, etc!].entries()) {
      const blob = first.blob(d);
      assert.equal(d.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
      const tar = gunzipSync(blob);
      assert.equal(first.config.rootfs.diff_ids[i], sha(tar));
      assert.equal(d.annotations?.[ESTARGZ_UNCOMPRESSED_SIZE_ANNOTATION], String(tar.length));
      const toc = await readToc(async (o, len) => blob.subarray(o, o + len), blob.length, d.annotations?.[ESTARGZ_TOC_DIGEST_ANNOTATION]);
      assert.equal(toc.tocDigest, d.annotations?.[ESTARGZ_TOC_DIGEST_ANNOTATION]);
    }
    const appToc = await readToc(async (o, len) => first.blob(app!).subarray(o, o + len), app!.size);
    assert.equal(appToc.landmark, 'prefetch');
    assert.deepEqual(appToc.toc.entries.slice(0, 3).map((e) => e.name), ['app', 'app/server.js', '.prefetch.landmark']);
    // 300000 bytes in 65536-byte chunks: 5 entries for big.bin.
    assert.equal(appToc.toc.entries.filter((e) => e.name === 'app/lib/big.bin').length, 5);
    const etcToc = await readToc(async (o, len) => first.blob(etc!).subarray(o, o + len), etc!.size);
    assert.equal(etcToc.landmark, 'no-prefetch');
  });

  it('the same tree twice gives the same image digest; threads 1 and 8 the same bytes', async () => {
    const again = await build(src, join(tmp.path, 'out2'));
    assert.equal(again.manifestDigest, first.manifestDigest);
    const one = await buildImage({ layers: [`${src.app}:/app`, `${src.etc}:/etc`], tags: ['e:1'], ociDir: join(tmp.path, 'out-t1'), layerOptions: { ...ESTARGZ, threads: 1 } });
    const eight = await buildImage({ layers: [`${src.app}:/app`, `${src.etc}:/etc`], tags: ['e:1'], ociDir: join(tmp.path, 'out-t8'), layerOptions: { ...ESTARGZ, threads: 8 } });
    assert.equal(one.digest, first.manifestDigest);
    assert.equal(eight.digest, first.manifestDigest);
  });

  it('node: the prioritised file goes first in the application layer only; the dependency layer (which excludes it) never holds its stream looking for it', async () => {
    const project = join(tmp.path, 'project');
    mkdirSync(join(project, 'node_modules/dep'), { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0', scripts: { start: 'node server.js' } }));
    writeFileSync(join(project, 'node_modules/dep/index.js'), semiCompressible(200_000, 8));
    writeFileSync(join(project, 'server.js'), 'require("dep")\n');
    const out = join(tmp.path, 'out-node');
    // A buffer far below the dependency layer: looking for server.js there would be ERR_ESTARGZ_PRIORITIZE.
    await buildNodeImage({ dir: project, tags: ['n:1'], ociDir: out, sbom: false, layerOptions: { compression: 'estargz', estargz: { prioritize: ['/app/server.js'], prioritizeBuffer: 10_000 } } });
    const l = readLayout(out);
    const [deps, code] = l.manifest.layers;
    const depsToc = await readToc(async (o, len) => l.blob(deps!).subarray(o, o + len), deps!.size);
    const codeToc = await readToc(async (o, len) => l.blob(code!).subarray(o, o + len), code!.size);
    assert.equal(depsToc.landmark, 'no-prefetch');
    assert.equal(codeToc.landmark, 'prefetch');
    assert.deepEqual(codeToc.toc.entries.slice(0, 3).map((e) => e.name), ['app', 'app/server.js', '.prefetch.landmark']);
  });

  it('a Docker-format manifest lists eStargz layers too, annotated, under the Docker gzip type', async () => {
    const out = join(tmp.path, 'out-docker');
    await build(src, out, { format: 'docker' });
    const d = readLayout(out).manifest.layers[0]!;
    assert.equal(d.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    assert.match(d.annotations?.[ESTARGZ_TOC_DIGEST_ANNOTATION] ?? '', /^sha256:[0-9a-f]{64}$/);
  });

  it('a tar file layer is rewritten as eStargz', async () => {
    const tarPath = join(tmp.path, 'etc.tar');
    writeFileSync(tarPath, await collect(tarDirectory(src.etc, { prefix: 'etc', mtime: 0 })));
    const out = join(tmp.path, 'out-tar');
    await buildImage({ layers: [{ tar: tarPath }], tags: ['e:1'], ociDir: out, layerOptions: { compression: 'estargz' } });
    const l = readLayout(out);
    const d = l.manifest.layers[0]!;
    const toc = await readToc(async (o, len) => l.blob(d).subarray(o, o + len), d.size, d.annotations?.[ESTARGZ_TOC_DIGEST_ANNOTATION]);
    assert.deepEqual(toc.toc.entries.map((e) => e.name), ['.no.prefetch.landmark', 'etc', 'etc/motd']);
  });

  it('umoci unpacks it as an ordinary gzip image: the source tree, plus the landmark and the TOC file', (t) => {
    const why = missing('umoci');
    if (why) return t.skip(why);
    const bundle = join(tmp.path, 'bundle');
    mustRun('umoci', ['unpack', ...(process.getuid?.() === 0 ? [] : ['--rootless']), '--image', `${join(tmp.path, 'out1')}:1`, bundle]);
    const got = snapshotTree(join(bundle, 'rootfs'));
    const want = new Map([...snapshotTree(src.app)].map(([k, v]) => [`app/${k}`, v]));
    for (const [k, v] of snapshotTree(src.etc)) want.set(`etc/${k}`, v);
    for (const [name, node] of want) assert.deepEqual(got.get(name), node, name);
    // What every non-lazy runtime extracts from an eStargz layer: the format's own two files.
    assert.ok(got.has('stargz.index.json') && got.has('.prefetch.landmark') && got.has('.no.prefetch.landmark'));
  });

  it('skopeo copies the archive (every blob checked against its digest) and keeps the annotations', async (t) => {
    const why = missing('skopeo');
    if (why) return t.skip(why);
    const archive = join(tmp.path, 'e.tar');
    await buildImage({ layers: [`${src.app}:/app`], tags: ['e:1'], output: archive, layerOptions: ESTARGZ });
    const copy = join(tmp.path, 'copy');
    mustRun('skopeo', ['copy', '--quiet', `oci-archive:${archive}`, `oci:${copy}:1`]);
    const d = readLayout(copy).manifest.layers[0]!;
    assert.match(d.annotations?.[ESTARGZ_TOC_DIGEST_ANNOTATION] ?? '', /^sha256:/);
    mustRun('skopeo', ['copy', '--quiet', `docker-archive:${archive}:docker.io/library/e:1`, `dir:${join(tmp.path, 'copy-dir')}`]);
  });
});

describe('the layer cache and eStargz', () => {
  const src = trees();

  it('keys differ by compression, chunk size and prioritised files (same tree)', () => {
    const diffID = `sha256:${'0'.repeat(64)}`;
    const key = (o: ConstructorParameters<typeof Layer>[1]) => layerCacheKeyId(layerCacheKey(new Layer(Buffer.alloc(0), o), diffID));
    const ids = [
      key({ compression: 'gzip' }),
      key({ compression: 'estargz' }),
      key({ compression: 'estargz', estargz: { chunkSize: 65536 } }),
      key({ compression: 'estargz', estargz: { prioritize: ['a'] } }),
    ];
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(key({ compression: 'estargz', threads: 1 }), key({ compression: 'estargz', threads: 8 }));
  });

  it('a gzip entry is never used for eStargz; an eStargz hit gives the same manifest, annotations and diff_ids', async () => {
    const cache = join(tmp.path, 'cache');
    const gz = await buildImage({ layers: [`${src.app}:/app`], tags: ['e:1'], ociDir: join(tmp.path, 'c-gzip'), layerCache: cache });
    const a = await buildImage({ layers: [`${src.app}:/app`], tags: ['e:1'], ociDir: join(tmp.path, 'c-e1'), layerCache: cache, layerOptions: ESTARGZ });
    assert.notEqual(a.digest, gz.digest);
    const plain = await buildImage({ layers: [`${src.app}:/app`], tags: ['e:1'], ociDir: join(tmp.path, 'c-plain'), layerOptions: ESTARGZ });
    assert.equal(a.digest, plain.digest, 'the first eStargz build made its layer (no gzip entry reused)');
    // The second build takes the entry (a known blob, made again and checked on write).
    const b = await buildImage({ layers: [`${src.app}:/app`], tags: ['e:1'], ociDir: join(tmp.path, 'c-e2'), layerCache: cache, layerOptions: ESTARGZ });
    assert.equal(b.digest, a.digest);
    const l = readLayout(join(tmp.path, 'c-e2'));
    assert.deepEqual(l.manifest.layers, readLayout(join(tmp.path, 'c-e1')).manifest.layers);
    assert.equal(l.config.rootfs.diff_ids[0], sha(gunzipSync(l.blob(l.manifest.layers[0]!))));
    // Another chunk size is another entry: a different layer.
    const c = await buildImage({ layers: [`${src.app}:/app`], tags: ['e:1'], ociDir: join(tmp.path, 'c-e3'), layerCache: cache, layerOptions: { compression: 'estargz', estargz: { chunkSize: 4096 } } });
    assert.notEqual(c.digest, a.digest);
  });

  it('hazard: malformed entry extras (a diffID that is no digest, annotations not strings, too many) are refused', async () => {
    const good = { diffID: `sha256:${'a'.repeat(64)}`, annotations: { [ESTARGZ_TOC_DIGEST_ANNOTATION]: `sha256:${'b'.repeat(64)}` } };
    assert.deepEqual(entryExtras(good), good);
    assert.equal(entryExtras({ diffID: 'sha256:xyz' }), undefined);
    assert.equal(entryExtras({ annotations: { a: 1 } }), undefined);
    assert.equal(entryExtras({ annotations: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }), undefined);
    const cache = new LayerCache(join(tmp.path, 'cache-refuse'));
    const key = layerCacheKey(new Layer(Buffer.alloc(0), { compression: 'estargz' }), `sha256:${'0'.repeat(64)}`);
    await assert.rejects(cache.set(key, { digest: `sha256:${'1'.repeat(64)}`, size: 1, annotations: { a: 2 as unknown as string } }), { code: 'ERR_INVALID_OPTION' });
  });

  it('hazard: an eStargz entry stripped of its diffID and annotations is a miss, never a config with the source tar\'s diffID', async () => {
    const dir = join(tmp.path, 'cache-bad');
    const first = await buildImage({ layers: [`${src.etc}:/etc`], tags: ['e:1'], ociDir: join(tmp.path, 'c-bad1'), layerCache: dir, layerOptions: { compression: 'estargz' } });
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    assert.equal(files.length, 1);
    const entry = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as Record<string, unknown>;
    assert.match(String(entry.diffID), /^sha256:/);
    assert.ok(entry.annotations);
    // As an older or foreign writer would leave it: a digest and size only (the digest made up).
    delete entry.diffID;
    delete entry.annotations;
    entry.digest = `sha256:${'1'.repeat(64)}`;
    writeFileSync(join(dir, files[0]!), JSON.stringify(entry));
    const again = await buildImage({ layers: [`${src.etc}:/etc`], tags: ['e:1'], ociDir: join(tmp.path, 'c-bad2'), layerCache: dir, layerOptions: { compression: 'estargz' } });
    assert.equal(again.digest, first.digest);
    const l = readLayout(join(tmp.path, 'c-bad2'));
    assert.equal(l.config.rootfs.diff_ids[0], sha(gunzipSync(l.blob(l.manifest.layers[0]!))));
  });
});

describe('eStargz options that make no sense are coded errors', () => {
  const src = trees();
  it('eStargz options with another compression', () => {
    assert.throws(() => new Layer(Buffer.alloc(0), { compression: 'gzip', estargz: { chunkSize: 4096 } }), { code: 'ERR_INVALID_OPTION', message: /estargz/ });
    assert.throws(() => new Layer(Buffer.alloc(0), { estargz: {} }), { code: 'ERR_INVALID_OPTION' });
  });
  it('unknown, out-of-range or unsafe eStargz options', () => {
    assert.throws(() => new Layer(Buffer.alloc(0), { compression: 'estargz', estargz: { threads: 2 } as never }), { code: 'ERR_INVALID_OPTION', message: /estargz\.threads/ });
    assert.throws(() => new Layer(Buffer.alloc(0), { compression: 'estargz', estargz: { chunkSize: 100 } }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => new Layer(Buffer.alloc(0), { compression: 'estargz', estargz: { prioritize: ['../etc/passwd'] } }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => new Layer(Buffer.alloc(0), { compression: 'estargz', compressionLevel: 12 }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
  });
  it('the stream forms refuse estargz (they compress any bytes, not a tar)', () => {
    assert.throws(() => createGzip({ compression: 'estargz' }), { code: 'ERR_OPTION_OUT_OF_RANGE', message: /stream form/ });
    assert.throws(() => new LayerCompressionStream({ compression: 'estargz' }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
  });
  it('uncompressed() of an eStargz layer is refused, and the layer stays unconsumed', async () => {
    const layer = new Layer(tarDirectory(src.etc), { compression: 'estargz' });
    assert.throws(() => layer.uncompressed(), { code: 'ERR_NOT_SUPPORTED' });
    const blob = await collect(layer.compressed());
    const v = await layer.done;
    assert.equal(v.digest.toString(), sha(blob));
    assert.equal(v.annotations?.[ESTARGZ_TOC_DIGEST_ANNOTATION], v.estargz?.tocDigest);
  });
  it('a source that is not a tar fails the layer with a coded tar error', async () => {
    const layer = new Layer(Readable.from([Buffer.alloc(1024, 'x')]), { compression: 'estargz' });
    await assert.rejects(async () => {
      for await (const _ of layer.compressed()) void _;
    }, { code: 'ERR_TAR_INVALID' });
    await assert.rejects(layer.done, { code: 'ERR_TAR_INVALID' });
  });
  it('buildImage: a zstd Docker image is still refused; estargz Docker and OCI images are not', async () => {
    await assert.rejects(buildImage({ layers: [src.etc], tags: ['e:1'], ociDir: join(tmp.path, 'never'), format: 'docker', layerOptions: { compression: 'zstd' } }), { code: 'ERR_IMAGE_FORMAT' });
    await assert.rejects(buildImage({ layers: [src.etc], tags: ['e:1'], ociDir: join(tmp.path, 'never2'), layerOptions: { compression: 'estargz', estargz: { chunkSize: 1 } } }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
  });
});
