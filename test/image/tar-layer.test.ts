// Tar files made by other tools as layers (buildImage `layers: ['x.tar']`, `--layer FILE.tar`): the
// digests and diffIDs each form must give, byte-for-byte reuse of a compressed tar whose compression
// is the one asked for, and the hostile files (not a tar, truncated, trailing data, unsafe names)
// refused with a code before anything is committed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { buildImage } from '../../src/build/build.js';
import { zstdUnavailableReason } from '../../src/image/tar-layer.js';
import { TarCheck } from '../../src/tar/check.js';
import { readTar } from '../../src/tar/reader.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { Layer } from '../../src/layer/layer.js';
import { sha256 as sha256hex } from '../helpers/layer.js';
import { randomBytes } from '../helpers/data.js';
import { missing, mustRun, tempDir } from '../helpers/image.js';
import { RegistryDestination } from '../../src/registry/destination.js';
import { registryMissing, registryAndProxy } from '../helpers/registry.js';

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of source) out.push(c);
  return out;
}

const sha256 = (bytes: Uint8Array): string => `sha256:${sha256hex(bytes)}`;

interface Manifest { layers: { mediaType: string; digest: string; size: number }[]; config: { digest: string } }

/** The manifest, config and a blob reader of the one image in an OCI layout. */
function readLayout(dir: string): { manifest: Manifest; diffIDs: string[]; blob: (digest: string) => Buffer } {
  const blob = (digest: string): Buffer => readFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)));
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(blob(index.manifests[0]!.digest).toString()) as Manifest;
  const config = JSON.parse(blob(manifest.config.digest).toString()) as { rootfs: { diff_ids: string[] } };
  return { manifest, diffIDs: config.rootfs.diff_ids, blob };
}

describe('tar files as layers', () => {
  const tmp = tempDir('fastlayer-tarlayer-');
  const tree = join(tmp.path, 'tree');
  const at = (name: string): string => join(tmp.path, name);
  let plain: Buffer;
  let ours: Buffer;
  before(async () => {
    mkdirSync(join(tree, 'etc'), { recursive: true });
    writeFileSync(join(tree, 'etc', 'app.conf'), 'x=1\n');
    writeFileSync(join(tree, 'data.bin'), Buffer.alloc(300_000, 7));
    // A tar of another tool where there is one (GNU tar pads to 10 KiB records of zeros); else ours.
    ours = Buffer.concat(await collect(tarDirectory(tree, { mtime: 1_700_000_000 })));
    if (missing('tar') === undefined) mustRun('tar', ['--sort=name', '--mtime=@1700000000', '-C', tree, '-cf', at('x.tar'), '.']);
    else writeFileSync(at('x.tar'), ours);
    plain = readFileSync(at('x.tar'));
    writeFileSync(at('x.tar.gz'), gzipSync(plain, { level: 6 }));
    writeFileSync(at('ours.tar'), ours);
  });
  after(() => tmp.remove());

  it('a plain tar is compressed like any layer: diffID = sha256 of the file, digest = the Layer of the same bytes', async () => {
    const out = at('oci-plain');
    const r = await buildImage({ layers: [at('x.tar')], tags: ['t:1'], ociDir: out });
    const expected = new Layer(plain, { compressionLevel: 1 });
    await new Promise<void>((resolve, reject) => expected.compressed().on('data', () => undefined).on('end', resolve).on('error', reject));
    assert.equal(r.images[0]!.diffIDs[0], sha256(plain));
    assert.equal(r.images[0]!.layers[0]!.digest, expected.digest().toString());
    const layout = readLayout(out);
    assert.equal(layout.manifest.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.ok(gunzipSync(layout.blob(layout.manifest.layers[0]!.digest)).equals(plain));
    assert.deepEqual(layout.diffIDs, [sha256(plain)]);
  });

  it('a .tar.gz is reused byte-for-byte when gzip is asked for (digest = the file\'s sha256), found by its magic bytes', async () => {
    const gz = readFileSync(at('x.tar.gz'));
    // Named .tar on purpose: the content says gzip.
    writeFileSync(at('disguised.tar'), gz);
    for (const path of [at('x.tar.gz'), at('disguised.tar')]) {
      const out = at(`oci-gz-${path.length}`);
      const r = await buildImage({ layers: [path], tags: ['t:1'], ociDir: out, layerOptions: { compressionLevel: 9 } });
      assert.deepEqual(r.images[0]!.layers[0], { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(gz), size: gz.length });
      assert.equal(r.images[0]!.diffIDs[0], sha256(plain));
      const layout = readLayout(out);
      assert.ok(layout.blob(sha256(gz)).equals(gz));
      assert.deepEqual(layout.diffIDs, [sha256(plain)]);
    }
  });

  it('a .tar.gz is re-compressed when another compression is asked for, in a Docker archive too', async () => {
    const r = await buildImage({ layers: [at('x.tar.gz')], tags: ['t:1'], ociDir: at('oci-none'), layerOptions: { compression: 'none' } });
    assert.deepEqual(r.images[0]!.layers[0], { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(plain), size: plain.length });
    assert.equal(r.images[0]!.diffIDs[0], sha256(plain));
    const docker = await buildImage({ layers: [at('x.tar.gz')], tags: ['t:1'], output: at('docker.tar'), format: 'docker' });
    assert.equal(docker.images[0]!.layers[0]!.digest, sha256(readFileSync(at('x.tar.gz'))), 'gzip in, gzip out: reused');
  });

  it('mixes directories and tar files, in order, and skopeo reads the layout back', async (t) => {
    const out = at('oci-mixed');
    const r = await buildImage({ layers: [tree, at('x.tar.gz'), at('ours.tar')], tags: ['t:1'], ociDir: out, cmd: 'true' });
    assert.deepEqual(r.images[0]!.diffIDs.slice(1), [sha256(plain), sha256(ours)]);
    const why = missing('skopeo');
    if (why) return t.skip(why);
    // A copy to dir: checks every blob against its digest.
    mustRun('skopeo', ['copy', `oci:${out}:1`, `dir:${at('skopeo-dir')}`]);
    assert.ok(readdirSync(at('skopeo-dir')).includes(sha256(readFileSync(at('x.tar.gz'))).slice(7)));
  });

  it('.tar.zst: reused under zstd where this runtime decodes zstd, else ERR_DECOMPRESS_UNAVAILABLE naming why', async (t) => {
    if (missing('zstd')) return t.skip(missing('zstd')!);
    mustRun('zstd', ['-q', '-f', '-3', at('x.tar'), '-o', at('x.tar.zst')]);
    const zst = readFileSync(at('x.tar.zst'));
    const why = await zstdUnavailableReason();
    const out = at('oci-zst');
    const build = () => buildImage({ layers: [at('x.tar.zst')], tags: ['t:1'], ociDir: out, layerOptions: { compression: 'zstd' } });
    if (why !== undefined) {
      await assert.rejects(build, (err: Error & { code?: string }) => err.code === 'ERR_DECOMPRESS_UNAVAILABLE' && err.message.includes(why));
      assert.equal(existsSync(out), false, 'nothing written');
      return;
    }
    const r = await build();
    assert.deepEqual(r.images[0]!.layers[0], { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: sha256(zst), size: zst.length });
    assert.equal(r.images[0]!.diffIDs[0], sha256(plain));
    const gz = await buildImage({ layers: [at('x.tar.zst')], tags: ['t:1'], ociDir: at('oci-zst-gz') });
    assert.equal(gz.images[0]!.diffIDs[0], sha256(plain), 'zstd in, gzip out: decompressed and re-compressed');
    // fastlayer's own zstd layers are many frames (one per 8 MiB of tar): every frame is read.
    mkdirSync(at('big'));
    writeFileSync(join(at('big'), 'zeros'), Buffer.alloc(9 * 1024 * 1024));
    const bigTar = Buffer.concat(await collect(tarDirectory(at('big'))));
    const layer = new Layer(bigTar, { compression: 'zstd' });
    const frames = Buffer.concat(await collect(layer.compressed()));
    writeFileSync(at('big.tar.zst'), frames);
    const multi = await buildImage({ layers: [at('big.tar.zst')], tags: ['t:1'], ociDir: at('oci-zst-multi'), layerOptions: { compression: 'zstd' } });
    assert.deepEqual(multi.images[0]!.layers[0], { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: layer.digest().toString(), size: frames.length });
    assert.equal(multi.images[0]!.diffIDs[0], sha256(bigTar));
    // Hostile zstd: cut short, or followed by other bytes (node:zlib would stop there silently).
    for (const [name, bytes] of [['cut', zst.subarray(0, zst.length - 8)], ['trailing', Buffer.concat([zst, Buffer.from('junk')])]] as const) {
      writeFileSync(at(`${name}.zst`), bytes);
      for (const compression of ['zstd', 'gzip'] as const) {
        const output = at(`${name}-${compression}.out.tar`);
        await assert.rejects(buildImage({ layers: [at(`${name}.zst`)], tags: ['t:1'], output, layerOptions: { compression } }), { code: 'ERR_LAYER_FILE' });
        assert.equal(existsSync(output), false);
      }
    }
  });

  it('a multi-platform index shares each tar layer: one blob per file, in every image', async () => {
    const r = await buildImage({ layers: [at('x.tar'), at('x.tar.gz')], tags: ['t:1'], ociDir: at('oci-index'), platform: 'linux/amd64,linux/arm64' });
    assert.equal(r.images.length, 2);
    assert.deepEqual(r.images[1]!.layers, r.images[0]!.layers);
    assert.deepEqual(r.images[0]!.diffIDs, [sha256(plain), sha256(plain)]);
    const blobs = readdirSync(join(at('oci-index'), 'blobs', 'sha256'));
    for (const l of r.images[0]!.layers) assert.ok(blobs.includes(l.digest.slice(7)));
  });

  it('refuses FILE.tar:/DEST: a tar layer keeps its own paths', async () => {
    await assert.rejects(buildImage({ layers: [`${at('x.tar')}:/app`], tags: ['t:1'], ociDir: at('never') }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.equal(existsSync(at('never')), false);
  });

  describe('hazard: hostile tar files give coded errors and no output', () => {
    const cases: [string, () => Buffer, string, object?][] = [
      ['not a tar', () => Buffer.from('just some text, no tar header here\n'.repeat(40)), 'ERR_TAR_INVALID'],
      ['an empty file', () => Buffer.alloc(0), 'ERR_TAR_INVALID'],
      ['a truncated plain tar', () => plain.subarray(0, 1536 + 100), 'ERR_TAR_INVALID'],
      ['a plain tar with trailing garbage', () => Buffer.concat([ours, Buffer.from('garbage')]), 'ERR_TAR_INVALID'],
      ['a truncated gzip', () => { const g = readFileSync(at('x.tar.gz')); return g.subarray(0, g.length - 20); }, 'ERR_LAYER_FILE'],
      ['a gzip of something that is not a tar', () => gzipSync(Buffer.alloc(5000, 0x41)), 'ERR_TAR_INVALID'],
      ['a gzip followed by garbage', () => Buffer.concat([readFileSync(at('x.tar.gz')), Buffer.from('garbage')]), 'ERR_LAYER_FILE'],
      ['a gzip followed by zeros (Go readers fail on them)', () => Buffer.concat([readFileSync(at('x.tar.gz')), Buffer.alloc(512)]), 'ERR_LAYER_FILE'],
      ['a truncated gzip being re-compressed', () => { const g = readFileSync(at('x.tar.gz')); return g.subarray(0, g.length - 20); }, 'ERR_LAYER_FILE', { compression: 'none' }],
      ['a gzip of a non-tar being re-compressed', () => gzipSync(Buffer.alloc(5000, 0x41)), 'ERR_TAR_INVALID', { compression: 'none' }],
      ['an entry that climbs out of the root', () => {
        const h = Buffer.from(ours.subarray(0, 512));
        h.fill(0, 0, 100).write('../escape', 0, 'ascii');
        h.fill(0x20, 148, 156);
        let sum = 0;
        for (const b of h) sum += b;
        h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
        return Buffer.concat([h, ours.subarray(512)]);
      }, 'ERR_TAR_UNSAFE_ENTRY'],
    ];
    for (const [what, bytes, code, layerOptions] of cases) {
      it(what, async () => {
        const file = at(`hostile-${what.replace(/\W+/g, '-')}.tar`);
        writeFileSync(file, bytes());
        const output = at(`hostile-${what.replace(/\W+/g, '-')}.out.tar`);
        await assert.rejects(buildImage({ layers: [file], tags: ['t:1'], output, ...(layerOptions ? { layerOptions } : {}) }), { code });
        assert.equal(existsSync(output), false, 'no archive');
        assert.deepEqual(readdirSync(tmp.path).filter((n) => n.includes('.out.tar')), [], 'no temporary file left');
      });
    }
  });

  it('TarCheck gives the same verdict however the stream is cut', async () => {
    const long = join(tmp.path, 'long');
    mkdirSync(join(long, 'd'.repeat(120)), { recursive: true });
    writeFileSync(join(long, 'd'.repeat(120), 'f'.repeat(110)), 'pax names');
    const bytes = Buffer.concat(await collect(tarDirectory(long)));
    let entries = 0;
    for await (const e of readTar(bytes)) entries += e.header.name === '' ? 0 : 1;
    for (const step of [1, 7, 512, 513, bytes.length]) {
      const check = new TarCheck('x');
      for (let i = 0; i < bytes.length; i += step) check.write(bytes.subarray(i, i + step));
      assert.equal(check.end(), entries, `cut every ${step} bytes`);
      const cut = new TarCheck('x');
      for (let i = 0; i < bytes.length - 1024; i += step) cut.write(bytes.subarray(i, Math.min(i + step, bytes.length - 1024)));
      assert.throws(() => cut.end(), { code: 'ERR_TAR_INVALID' });
    }
  });
});

describe('tar files as layers pushed to a registry (docker-registry)', { skip: registryMissing() }, () => {
  const served = registryAndProxy(() => tmp.remove());
  const tmp = tempDir('fastlayer-tarlayer-push-');

  it('a reused .tar.gz goes up with the file\'s bytes; pushed again, it is skipped after a HEAD (no body sent)', async () => {
    const tree = join(tmp.path, 'tree');
    mkdirSync(tree);
    writeFileSync(join(tree, 'data'), randomBytes(200_000, 5));
    const tar = Buffer.concat(await collect(tarDirectory(tree)));
    const gz = gzipSync(tar);
    const file = join(tmp.path, 'x.tgz');
    writeFileSync(file, gz);
    const push = () => buildImage({ layers: [file], tags: [`${served.proxy.host}/tar/app:1`], destination: new RegistryDestination(`${served.proxy.host}/tar/app:1`) });
    const before1 = served.proxy.bytes.PATCH ?? 0;
    const first = await push();
    assert.equal(first.images[0]!.layers[0]!.digest, sha256(gz));
    const res = await fetch(`http://${served.registry.host}/v2/tar/app/blobs/${sha256(gz)}`);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(gz), 'the registry holds the file byte for byte');
    const sent = (served.proxy.bytes.PATCH ?? 0) + (served.proxy.bytes.PUT ?? 0);
    assert.ok(sent - before1 >= gz.length);
    const from = served.proxy.log.length;
    const second = await push();
    assert.equal(second.digest, first.digest);
    assert.ok((served.proxy.bytes.PATCH ?? 0) + (served.proxy.bytes.PUT ?? 0) - sent < gz.length, 'the layer was not sent again');
    assert.deepEqual(served.proxy.log.slice(from).filter((r) => r.path.includes('/blobs/uploads/')), [], 'no upload session');
    assert.ok(served.proxy.log.slice(from).some((r) => r.method === 'HEAD' && r.path.endsWith(sha256(gz))), 'a HEAD for the layer');
  });
});
