// writeImage's contract with every destination (layout, archive, registry): the order streaming
// forces, skipped known blobs, the concurrency bound, abort on failure and never after commit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { Layer } from '../../src/layer/layer.js';
import { Image, ImageIndex } from '../../src/image/image.js';
import { writeImage } from '../../src/image/write.js';
import type { Blob, Descriptor, Destination, KnownBlob, ManifestBlob } from '../../src/image/types.js';
import type { ImageSource } from '../../src/image/source.js';
import { sha256 } from '../../src/image/json.js';

class Recorder implements Destination {
  readonly log: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  aborted: unknown;
  constructor(readonly concurrency: number, readonly held = new Set<string>(), readonly failOn?: string) {}
  async has(d: Descriptor): Promise<boolean> {
    return this.held.has(d.digest);
  }
  async writeBlob(blob: Blob): Promise<Descriptor> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const stream = blob.kind === 'streaming' ? blob.layer.compressed() : blob.open();
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      await new Promise((r) => setTimeout(r, 5));
      const bytes = Buffer.concat(chunks);
      const d = blob.kind === 'streaming'
        ? { mediaType: blob.layer.mediaType(), digest: blob.layer.digest().toString(), size: blob.layer.size() }
        : blob.descriptor;
      assert.equal(sha256(bytes), d.digest);
      if (this.failOn === d.mediaType) throw new Error('destination failed');
      this.log.push(`blob ${d.mediaType.includes('config') ? 'config' : 'layer'}`);
      return d;
    } finally {
      this.inFlight--;
    }
  }
  async writeManifest(m: ManifestBlob): Promise<void> {
    this.log.push(`manifest ${m.descriptor.mediaType.includes('index') ? 'index' : 'image'}`);
  }
  async commit(top: ManifestBlob, names: readonly string[]): Promise<void> {
    this.log.push(`commit ${names.join(',')}`);
  }
  async abort(reason: unknown): Promise<void> {
    this.aborted = reason;
  }
}

function known(bytes: Buffer): KnownBlob {
  return { kind: 'known', descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(bytes), size: bytes.length }, open: () => Readable.from([bytes]) };
}

const layer = (n: number): Layer => new Layer(Buffer.alloc(50_000, n));

describe('writeImage', () => {
  it('passes every layer first, then configs, manifests, the index, and commits last', async () => {
    const dest = new Recorder(2);
    const shared = layer(9);
    const index = new ImageIndex([
      new Image({ platform: 'linux/amd64', layers: [layer(1), shared] }),
      new Image({ platform: 'linux/arm64', layers: [layer(2), shared] }),
    ]);
    const r = await writeImage(index, dest, { names: ['a:1'] });
    assert.deepEqual(dest.log, ['blob layer', 'blob layer', 'blob layer', 'blob config', 'manifest image', 'blob config', 'manifest image', 'manifest index', 'commit docker.io/library/a:1']);
    assert.equal(r.images[0]!.layers[1]!.digest, r.images[1]!.layers[1]!.digest, 'a Layer used twice is written once');
    assert.ok(dest.maxInFlight <= 2);
    assert.equal(dest.aborted, undefined);
  });

  it('skips known blobs the destination has, and writes at most `concurrency` blobs at once', async () => {
    const a = Buffer.from('held already');
    const b = Buffer.from('not held');
    const dest = new Recorder(1, new Set([sha256(a)]));
    const events: string[] = [];
    await writeImage(new Image({ layers: [known(a), known(b), layer(3), layer(4)] }), dest, { onProgress: (e) => events.push(e.type === 'blob' ? `${e.type}:${e.skipped}` : e.type) });
    assert.equal(dest.maxInFlight, 1);
    assert.deepEqual(events, ['blob:true', 'blob:false', 'blob:false', 'blob:false', 'blob:false', 'manifest', 'commit']);
  });

  it('a failing blob aborts the destination with the cause and nothing is committed', async () => {
    const dest = new Recorder(2, new Set(), 'application/vnd.oci.image.config.v1+json');
    await assert.rejects(writeImage(new Image({ layers: [layer(5)] }), dest, { names: ['x'] }), /destination failed/);
    assert.match(String(dest.aborted), /destination failed/);
    assert.ok(!dest.log.some((l) => l.startsWith('commit') || l.startsWith('manifest')));
  });

  it('an aborted signal stops before anything is written', async () => {
    const dest = new Recorder(1);
    const ac = new AbortController();
    ac.abort(new Error('cancelled'));
    await assert.rejects(writeImage(new Image({ layers: [layer(6)] }), dest, { signal: ac.signal }), /cancelled/);
    assert.deepEqual(dest.log, []);
    assert.match(String(dest.aborted), /cancelled/);
  });
});

describe('writeImage: an index tree that lists the same documents many times', () => {
  const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
  const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
  const descriptorOf = (bytes: Buffer, mediaType: string): Descriptor => ({ mediaType, digest: sha256(bytes), size: bytes.length });

  /** An in-memory source of `docs` (JSON documents by digest) that counts each manifest() read. */
  function countingSource(top: Descriptor, docs: Map<string, Buffer>): ImageSource & { reads: Map<string, number> } {
    const reads = new Map<string, number>();
    return {
      where: 'memory',
      reads,
      top: async () => top,
      async manifest(d) {
        reads.set(d.digest, (reads.get(d.digest) ?? 0) + 1);
        return { descriptor: d, bytes: docs.get(d.digest)! };
      },
      async blob(d) {
        const bytes = docs.get(d.digest)!;
        return { kind: 'known', descriptor: d, open: () => Readable.from([bytes]) };
      },
      invalid: (m) => new Error(m),
      missing: (m) => new Error(m),
    };
  }

  /** Documents and blobs by digest, and `put`, which adds one and gives its descriptor. */
  function documents(): { docs: Map<string, Buffer>; put: (value: unknown, mediaType: string) => Descriptor } {
    const docs = new Map<string, Buffer>();
    const put = (value: unknown, mediaType: string): Descriptor => {
      const bytes = Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value));
      docs.set(sha256(bytes), bytes);
      return descriptorOf(bytes, mediaType);
    };
    return { docs, put };
  }

  it('each manifest and index is read and written once, children before parents (30x30 repeats were 900 visits)', async () => {
    const { docs, put } = documents();
    const config = put({ os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [] } }, 'application/vnd.oci.image.config.v1+json');
    const image = (n: number): Descriptor => put({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [put(Buffer.from(`layer ${n}`), 'application/vnd.oci.image.layer.v1.tar')] }, OCI_MANIFEST);
    const a = image(1);
    const b = image(2);
    const x = put({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: Array.from({ length: 30 }, () => a) }, OCI_INDEX);
    const y = put({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [a, b] }, OCI_INDEX);
    const top = put({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...Array.from({ length: 30 }, () => x), y] }, OCI_INDEX);
    const source = countingSource(top, docs);
    const dest = new Recorder(2);
    const written: string[] = [];
    const r = await writeImage(source, dest, { onProgress: (e) => e.type === 'manifest' && written.push(e.digest) });
    assert.deepEqual(written, [a.digest, x.digest, b.digest, y.digest, top.digest], 'each once, every child before the index that lists it');
    assert.deepEqual([...source.reads.values()], [1, 1, 1, 1, 1], 'each document read once');
    assert.deepEqual(dest.log, ['blob layer', 'blob config', 'manifest image', 'manifest index', 'blob layer', 'manifest image', 'manifest index', 'manifest index', 'commit ']);
    assert.deepEqual(r.images.map((i) => i.manifest.digest), [a.digest, b.digest], 'each image listed once');
  });

  it('hazard: a blob a later manifest lists with another size is refused, as a wrong-size blob is (it was skipped as written)', async () => {
    const { docs, put } = documents();
    const config = put({ os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [] } }, 'application/vnd.oci.image.config.v1+json');
    const shared = put(Buffer.from('the same layer'), 'application/vnd.oci.image.layer.v1.tar');
    const a = put({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [shared] }, OCI_MANIFEST);
    const b = put({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [{ ...shared, size: shared.size + 7 }] }, OCI_MANIFEST);
    const top = put({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [a, b] }, OCI_INDEX);
    const dest = new Recorder(2);
    const message = new RegExp(`blob ${shared.digest} is listed with ${shared.size} bytes by manifest ${a.digest} and with ${shared.size + 7} bytes by manifest ${b.digest}`);
    await assert.rejects(writeImage(countingSource(top, docs), dest), { message });
    assert.ok(!dest.log.some((l) => l.startsWith('commit')), 'nothing committed');
    assert.ok(dest.aborted !== undefined, 'the destination aborted');
    // The same digest and size twice is one blob, written once.
    const c = put({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [shared, shared] }, OCI_MANIFEST);
    const ok = new Recorder(2);
    await writeImage(countingSource(put({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [a, c] }, OCI_INDEX), docs), ok);
    assert.equal(ok.log.filter((l) => l === 'blob layer').length, 1);
  });
});
