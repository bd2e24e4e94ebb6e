// A built Image or ImageIndex as an ImageSource (src/image/built-source.ts): its documents exist once
// its streaming layers were produced, never before; afterwards they are the very bytes writeImage
// wrote, and a streaming layer's bytes are not handed out again (nothing was spooled for that).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Layer } from '../../src/layer/layer.js';
import { Image, ImageIndex } from '../../src/image/image.js';
import { writeImage } from '../../src/image/write.js';
import { isImageSource, manifestParts, indexEntries } from '../../src/image/source.js';
import { writeLayout, OciLayout } from '../../src/layout/layout.js';
import { layoutSource } from '../../src/layout/source.js';
import { sha256 } from '../../src/core/hash.js';
import type { Blob, Descriptor, Destination, KnownBlob } from '../../src/image/types.js';
import { randomBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';

const tmp = tempDir('fastlayer-built-source-');
after(() => tmp.remove());

const layerOf = (bytes: Buffer): Layer => new Layer(bytes, { compressionLevel: 1 });

async function bytesOf(blob: KnownBlob): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of blob.open()) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A destination that writes nothing: it only records what it was asked. */
function counting(): Destination & { writes: number } {
  const d = {
    writes: 0,
    concurrency: 2,
    has: async () => false,
    writeBlob: async (blob: Blob): Promise<Descriptor> => {
      d.writes++;
      return blob.kind === 'known' ? blob.descriptor : { mediaType: 'x', digest: 'x', size: 0 };
    },
    writeManifest: async () => {},
    commit: async () => {},
    abort: async () => {},
  };
  return d;
}

describe('a built image as an ImageSource', () => {
  it('before its layers were produced, top() and manifest() say ERR_LAYER_NOT_COMPUTED; produce() lists each layer once', async () => {
    const shared = layerOf(randomBytes(5_000, 1));
    const image = new Image({ layers: [shared, layerOf(randomBytes(5_000, 2))] });
    assert.equal(isImageSource(image), true);
    await assert.rejects(image.top(), { code: 'ERR_LAYER_NOT_COMPUTED' });
    await assert.rejects(image.manifest({ mediaType: 'x', digest: `sha256:${'0'.repeat(64)}`, size: 1 }), { code: 'ERR_LAYER_NOT_COMPUTED' });
    const index = new ImageIndex([
      new Image({ platform: 'linux/amd64', layers: [shared] }),
      new Image({ platform: 'linux/arm64', layers: [shared, layerOf(randomBytes(100, 3))] }),
    ]);
    const produced = index.produce();
    assert.equal(produced.length, 2, 'a Layer object shared by two images is one pass');
    assert.equal(produced[0]!.kind === 'streaming' && produced[0]!.layer, shared);
  });

  it('after writeImage it answers with the documents written: same digests and bytes, and a streaming layer is not handed out again', async () => {
    const image = new Image({ layers: [layerOf(randomBytes(30_000, 4))], cmd: ['app'] });
    const dir = join(tmp.path, 'one');
    const written = await writeLayout(image, dir, { names: ['local/one:1'] });
    const top = await image.top();
    assert.equal(top.digest, written.digest);
    const manifest = await image.manifest(top);
    assert.deepEqual(manifest.bytes, readFileSync(join(dir, 'blobs', 'sha256', top.digest.slice(7))));
    const { config, layers } = manifestParts(image, manifest);
    const configBytes = await bytesOf(await image.blob(config));
    assert.equal(sha256(configBytes), config.digest);
    assert.deepEqual((JSON.parse(configBytes.toString('utf8')) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids, written.images[0]!.diffIDs);
    await assert.rejects(image.blob(layers[0]!), { code: 'ERR_LAYER_CONSUMED' });
    await assert.rejects(image.manifest({ ...top, digest: `sha256:${'1'.repeat(64)}` }), { code: 'ERR_INVALID_OPTION' });
    // The same image read back from the layout is the same source, document for document.
    const read = await layoutSource(dir);
    assert.deepEqual((await read.manifest(top)).bytes, manifest.bytes);
  });

  it('an eStargz layer: the manifest lists its descriptor with the annotations the destination reported', async () => {
    const root = join(tmp.path, 'estargz-root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc', 'f.txt'), randomBytes(10_000, 9));
    const tar = spawnSync('tar', ['-cf', '-', '--mtime=@0', '--owner=0', '--group=0', '-C', root, 'etc'], { maxBuffer: 1 << 24 }).stdout;
    const image = new Image({ layers: [new Layer(tar, { compression: 'estargz' })] });
    const written = await writeLayout(image, join(tmp.path, 'estargz'));
    const { layers } = manifestParts(image, await image.manifest(await image.top()));
    assert.ok(layers[0]!.annotations?.['containerd.io/snapshot/stargz/toc.digest']?.startsWith('sha256:'));
    assert.deepEqual(layers, written.images[0]!.layers);
  });

  it('an index: its top is the index written, each child is listed with its platform', async () => {
    const index = new ImageIndex([
      new Image({ platform: 'linux/amd64', layers: [layerOf(randomBytes(2_000, 5))] }),
      new Image({ platform: 'linux/arm64', layers: [layerOf(randomBytes(2_000, 6))] }),
    ]);
    const written = await writeLayout(index, join(tmp.path, 'index'));
    const top = await index.manifest(await index.top());
    assert.equal(top.descriptor.digest, written.digest);
    const children = indexEntries(index, top);
    assert.deepEqual(children.map((c) => c.platform?.architecture), ['amd64', 'arm64']);
    assert.deepEqual(children.map((c) => c.digest), written.images.map((i) => i.manifest.digest));
    for (const [i, child] of children.entries()) assert.equal((await index.manifest(child)).descriptor.digest, written.images[i]!.manifest.digest);
  });

  it('an image of known layers only needs no production: written twice, it is the same image', async () => {
    const dir = join(tmp.path, 'base');
    await writeLayout(new Image({ layers: [layerOf(randomBytes(4_000, 7))] }), dir);
    const base = await layoutSource(dir);
    const { layers } = manifestParts(base, await base.manifest(await base.top()));
    const known = { ...(await base.blob(layers[0]!)), diffID: sha256(randomBytes(4_000, 7)) };
    const image = new Image({ layers: [known], cmd: ['again'] });
    const top = await image.top();
    const a = await writeImage(image, new OciLayout(join(tmp.path, 'a')));
    const b = await writeImage(image, new OciLayout(join(tmp.path, 'b')));
    assert.equal(a.digest, top.digest);
    assert.equal(b.digest, top.digest);
  });

  it('a known layer without a diffID is refused before anything is written', async () => {
    const bytes = Buffer.from('not a tar, and no diffID');
    const known: KnownBlob = { kind: 'known', descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(bytes), size: bytes.length }, open: () => Readable.from([bytes]) };
    const image = new Image({ layers: [layerOf(randomBytes(1_000, 8)), known] });
    const destination = counting();
    await assert.rejects(writeImage(image, destination), { code: 'ERR_BASE_IMAGE' });
    assert.equal(destination.writes, 0);
  });
});
