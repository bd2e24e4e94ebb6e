// The one read interface (ImageSource) and the one blob check (core/verify.ts): a layout or archive
// read as a source and written anywhere keeps its digests, a blob whose bytes are not its
// descriptor's fails before its last chunk is handed on, platforms narrow an index as copy does, and
// the merged layout error keeps both codes.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Layer } from '../../src/layer/layer.js';
import { Image, ImageIndex } from '../../src/image/image.js';
import { writeImage } from '../../src/image/write.js';
import { isImageSource, selectPlatforms } from '../../src/image/source.js';
import { writeLayout, OciLayout } from '../../src/layout/layout.js';
import { writeArchive } from '../../src/archive/archive.js';
import { layoutSource } from '../../src/layout/source.js';
import { verifyBytes } from '../../src/core/verify.js';
import { sha256 } from '../../src/core/hash.js';
import { ErrDigestMismatch } from '../../src/core/errors.js';
import { ErrLayout, layoutInvalid } from '../../src/image/errors.js';
import { ErrLayoutInvalid } from '../../src/layout/store.js';
import { ErrRegistry, ErrRegistryDigestMismatch, registryDigestMismatch } from '../../src/registry/errors.js';
import { isIndexType } from '../../src/core/media-types.js';
import { prepareCache } from '../../src/build/cache-use.js';
import type { Destination } from '../../src/image/types.js';
import { randomBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';

const tmp = tempDir();
after(() => tmp.remove());

async function* chunksOf(...parts: Buffer[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

async function drain(source: AsyncIterable<Uint8Array>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of source) out.push(Buffer.from(c));
  return out;
}

function layerOf(bytes: Buffer): Layer {
  return new Layer(bytes, { compressionLevel: 1 });
}

describe('verifyBytes: the one check of blob bytes against their descriptor', () => {
  const a = Buffer.from('first chunk ');
  const b = Buffer.from('second chunk');
  const whole = Buffer.concat([a, b]);
  const expected = { digest: sha256(whole), size: whole.length };

  it('passes the bytes through unchanged when they match', async () => {
    assert.deepEqual(Buffer.concat(await drain(verifyBytes(chunksOf(a, b), expected))), whole);
  });

  it('a different digest fails before the last chunk is handed on', async () => {
    const seen: Buffer[] = [];
    const other = Buffer.from(b).fill(0x41);
    await assert.rejects(
      (async () => {
        for await (const c of verifyBytes(chunksOf(a, other), expected)) seen.push(Buffer.from(c));
      })(),
      (err: unknown) => err instanceof ErrDigestMismatch && err.code === 'ERR_DIGEST_MISMATCH',
    );
    assert.deepEqual(seen, [a], 'only the chunks before the last one were handed on');
  });

  it('more bytes than the size fail at the first extra chunk; the caller picks the error', async () => {
    const seen: Buffer[] = [];
    const mine = new Error('mine');
    await assert.rejects(
      (async () => {
        for await (const c of verifyBytes(chunksOf(a, b, Buffer.from('x'), Buffer.from('never read')), expected, { mismatch: (m) => (m.kind === 'longer' ? mine : new Error('other')) })) seen.push(Buffer.from(c));
      })(),
      (err: unknown) => err === mine,
    );
    assert.deepEqual(seen, [a]);
  });

  it('fewer bytes than the size fail', async () => {
    await assert.rejects(drain(verifyBytes(chunksOf(a), expected)), { code: 'ERR_DIGEST_MISMATCH' });
  });
});

describe('layoutSource: a layout or archive as an ImageSource, written by writeImage', () => {
  it('layout -> layout and archive -> layout keep every digest', async () => {
    const image = new Image({ layers: [layerOf(randomBytes(30_000, 5)), layerOf(randomBytes(20_000, 6))], cmd: ['app'] });
    const dir = join(tmp.path, 'src-layout');
    const written = await writeLayout(image, dir, { names: ['local/app:1'] });
    const source = await layoutSource(dir);
    assert.equal(isImageSource(source), true);
    assert.equal(isImageSource(image), true, 'a built image is an ImageSource too (built-source.ts)');
    assert.equal((await source.top()).digest, written.digest);
    const copy = await writeImage(source, new OciLayout(join(tmp.path, 'copy-layout')), { names: ['local/copy:1'] });
    assert.equal(copy.digest, written.digest);
    assert.deepEqual(copy.images[0]!.layers.map((l) => l.digest), written.images[0]!.layers.map((l) => l.digest));

    const file = join(tmp.path, 'src.tar');
    const archived = await writeArchive(new Image({ layers: [layerOf(randomBytes(10_000, 7))] }), file, { names: ['local/tar:1'] });
    const fromArchive = await writeImage(await layoutSource(file), new OciLayout(join(tmp.path, 'from-archive')));
    assert.equal(fromArchive.digest, archived.digest);
  });

  it('a tampered blob fails the stream with ERR_DIGEST_MISMATCH, and the copy commits nothing', async () => {
    const dir = join(tmp.path, 'tampered');
    const written = await writeLayout(new Image({ layers: [layerOf(randomBytes(40_000, 8))] }), dir, { names: ['local/t:1'] });
    const layer = written.images[0]!.layers[0]!;
    const path = join(dir, 'blobs', 'sha256', layer.digest.slice(7));
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(path, bytes);
    const source = await layoutSource(dir);
    await assert.rejects(drain((await source.blob(layer)).open()), { code: 'ERR_DIGEST_MISMATCH' });
    const out = join(tmp.path, 'tampered-copy');
    await assert.rejects(writeImage(source, new OciLayout(out), { names: ['local/t:1'] }), { code: 'ERR_DIGEST_MISMATCH' });
    assert.throws(() => readFileSync(join(out, 'index.json')), { code: 'ENOENT' });
  });

  it('selectPlatforms: one platform is that image (digest unchanged), two a smaller index, a missing one the source\'s error', async () => {
    const index = new ImageIndex([
      new Image({ platform: 'linux/amd64', layers: [layerOf(randomBytes(3000, 11))] }),
      new Image({ platform: 'linux/arm64', layers: [layerOf(randomBytes(3000, 12))] }),
      new Image({ platform: 'linux/s390x', layers: [layerOf(randomBytes(3000, 13))] }),
    ]);
    const dir = join(tmp.path, 'multi');
    const written = await writeLayout(index, dir, { names: ['local/multi:1'] });
    const source = await layoutSource(dir);
    assert.equal(await selectPlatforms(source, 'all'), source);

    const one = await selectPlatforms(source, [{ os: 'linux', architecture: 'arm64' }]);
    assert.equal((await one.top()).digest, written.images[1]!.manifest.digest);
    const single = await writeImage(one, new OciLayout(join(tmp.path, 'one')));
    assert.equal(single.digest, written.images[1]!.manifest.digest);

    const two = await selectPlatforms(source, [{ os: 'linux', architecture: 's390x' }, { os: 'linux', architecture: 'amd64' }]);
    const top = await two.top();
    assert.ok(isIndexType(top.mediaType));
    assert.notEqual(top.digest, written.digest);
    const doc = JSON.parse((await two.manifest(top)).bytes.toString()) as { manifests: { digest: string }[] };
    assert.deepEqual(doc.manifests.map((m) => m.digest), [written.images[0]!.manifest.digest, written.images[2]!.manifest.digest], 'entries kept in their order');
    const smaller = await writeImage(two, new OciLayout(join(tmp.path, 'two')));
    assert.equal(smaller.digest, top.digest);
    assert.equal(smaller.images.length, 2);

    await assert.rejects(selectPlatforms(source, [{ os: 'linux', architecture: 'riscv64' }]), { code: 'ERR_LAYOUT_INVALID', message: /no image for linux\/riscv64/ });
  });
});

describe('one error class per concept', () => {
  it('ErrLayout carries ERR_IMAGE_LAYOUT (writing) or ERR_LAYOUT_INVALID (reading); ErrLayoutInvalid is the same class', () => {
    const write = new ErrLayout('cannot write');
    const read = layoutInvalid('cannot read');
    assert.equal(write.code, 'ERR_IMAGE_LAYOUT');
    assert.equal(read.code, 'ERR_LAYOUT_INVALID');
    assert.ok(read instanceof ErrLayout && read instanceof ErrLayoutInvalid && write instanceof ErrLayoutInvalid);
    assert.equal(ErrLayoutInvalid, ErrLayout);
  });

  it('ErrDigestMismatch carries ERR_DIGEST_MISMATCH or, from a registry, ERR_REGISTRY_DIGEST_MISMATCH with its status; ErrRegistryDigestMismatch is the same class', () => {
    const local = new ErrDigestMismatch('sha256:a', 'sha256:b');
    const remote = registryDigestMismatch('the registry stored it as sha256:c', { status: 201 });
    assert.equal(local.code, 'ERR_DIGEST_MISMATCH');
    assert.equal(remote.code, 'ERR_REGISTRY_DIGEST_MISMATCH');
    assert.equal(remote.status, 201);
    assert.equal(remote.message, 'the registry stored it as sha256:c');
    assert.ok(remote instanceof ErrDigestMismatch && remote instanceof ErrRegistryDigestMismatch && local instanceof ErrRegistryDigestMismatch);
    assert.equal(remote instanceof ErrRegistry, false);
    assert.equal(ErrRegistryDigestMismatch, ErrDigestMismatch);
  });

  it('a missing blob of a layout source is ERR_LAYOUT_INVALID', async () => {
    const dir = join(tmp.path, 'missing');
    const written = await writeLayout(new Image({ layers: [layerOf(randomBytes(1000, 21))] }), dir);
    const source = await layoutSource(dir);
    await assert.rejects(source.blob({ ...written.images[0]!.layers[0]!, digest: sha256(Buffer.from('absent')) }), (err: unknown) => err instanceof ErrLayout && err.code === 'ERR_LAYOUT_INVALID');
  });
});

describe('prepareCache keeps what the destination can do', () => {
  it('addReferrer is passed through (a push with a layer cache can attach an SBOM)', async () => {
    const calls: string[] = [];
    const destination: Destination = {
      concurrency: 1,
      has: async () => false,
      writeBlob: async () => {
        throw new Error('not used');
      },
      writeManifest: async () => undefined,
      addReferrer: async (m) => void calls.push(m.descriptor.digest),
      commit: async () => undefined,
      abort: async () => undefined,
    };
    const prepared = await prepareCache({ destination });
    assert.equal(typeof prepared.destination?.addReferrer, 'function');
    const bytes = Buffer.from('{}');
    const manifest = { descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(bytes), size: 2 }, bytes };
    await prepared.destination!.addReferrer!(manifest, manifest.descriptor);
    assert.deepEqual(calls, [manifest.descriptor.digest]);
  });
});
