// The image model without tools: config contents and inheritance, canonical bytes, created time,
// manifest formats and media types, index rules, argument validation.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { Layer } from '../../src/layer/layer.js';
import { Image, ImageIndex } from '../../src/image/image.js';
import { resolveCreated } from '../../src/image/config.js';
import { canonicalJSON } from '../../src/image/json.js';
import { buildManifest, layerMediaType } from '../../src/image/manifest.js';
import { DOCKER_MANIFEST, OCI_MANIFEST } from '../../src/core/media-types.js';
import { parsePlatform, platformMatches } from '../../src/image/platform.js';
import { familiar, indexEntries } from '../../src/image/names.js';
import { bytesBlob } from '../../src/image/write.js';
import { DOCKER_LAYER_GZIP, OCI_LAYER_GZIP, OCI_LAYER_UNCOMPRESSED, OCI_LAYER_ZSTD } from '../../src/core/media-types.js';
import type { BaseImage } from '../../src/image/image.js';
import type { KnownBlob } from '../../src/image/types.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

function known(mediaType: string, digest = D1): KnownBlob {
  return { kind: 'known', descriptor: { mediaType, digest, size: 10 }, diffID: D2, open: () => Readable.from([Buffer.alloc(10)]) };
}

const base: BaseImage = {
  config: {
    architecture: 'arm64', os: 'linux', variant: 'v8', docker_version: '24', container_config: { Cmd: ['x'] },
    config: { Env: ['PATH=/usr/bin', 'A=base'], Cmd: ['sh'], Labels: { a: '1', b: '2' }, ExposedPorts: { '22/tcp': {} }, OnBuild: ['RUN x'] },
    rootfs: { type: 'layers', diff_ids: [D2] },
    history: [{ created_by: 'base step' }],
  },
  platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  source: 'test',
  layers: () => [known(OCI_LAYER_GZIP)],
};

describe('image config', () => {
  it('inherits the base config and applies options over it the way a Dockerfile does', () => {
    const image = new Image({ base, env: { A: 'mine', B: '2' }, labels: { b: 'x', c: '3' }, exposedPorts: ['80', '53/udp'], entrypoint: ['/app'], user: '1000:1000', workdir: '/srv', volumes: ['/data'], stopSignal: 'SIGINT', healthcheck: { test: ['CMD', 'true'], interval: 1e9, retries: 3 } });
    const c = image.configJSON([D2, D1]);
    const cc = c.config as Record<string, unknown>;
    assert.deepEqual(cc.Env, ['PATH=/usr/bin', 'A=mine', 'B=2']);
    assert.deepEqual(cc.Labels, { a: '1', b: 'x', c: '3' });
    assert.deepEqual(cc.ExposedPorts, { '22/tcp': {}, '80/tcp': {}, '53/udp': {} });
    assert.deepEqual(cc.Entrypoint, ['/app']);
    assert.equal(cc.Cmd, undefined, 'a new entrypoint drops the inherited cmd');
    assert.deepEqual(cc.OnBuild, ['RUN x'], 'unknown base fields are kept');
    assert.equal(cc.User, '1000:1000');
    assert.equal(cc.WorkingDir, '/srv');
    assert.deepEqual(cc.Volumes, { '/data': {} });
    assert.equal(cc.StopSignal, 'SIGINT');
    assert.deepEqual(cc.Healthcheck, { Test: ['CMD', 'true'], Interval: 1e9, Retries: 3 });
    assert.equal(c.architecture, 'arm64');
    assert.equal(c.variant, 'v8');
    assert.equal(c.docker_version, undefined, 'the base build metadata is dropped');
    assert.equal(c.container_config, undefined);
    assert.deepEqual((c.rootfs as { diff_ids: string[] }).diff_ids, [D2, D1]);
    assert.equal((c.history as unknown[]).length, 1, 'base history kept; no layers added');
  });

  it('adds one history entry per added layer, dated with the image', () => {
    const layer = new Layer(Buffer.from('x'));
    const image = new Image({ layers: [{ layer, history: { created_by: 'COPY x' } }], created: 86400 });
    const c = image.configJSON([D1]);
    assert.deepEqual(c.history, [{ created: '1970-01-02T00:00:00Z', created_by: 'COPY x' }]);
    assert.equal(c.created, '1970-01-02T00:00:00Z');
  });

  it('hazard: a base history with fewer non-empty entries than layers is padded, so readers pair entries and layers right', () => {
    const layer = new Layer(Buffer.from('x'));
    const threeLayers = { ...base, config: { ...base.config, rootfs: { type: 'layers', diff_ids: [D2, D2, D2] } } };
    const history = (h: unknown[]) => new Image({ base: { ...threeLayers, config: { ...threeLayers.config, history: h } }, layers: [{ layer, history: { created_by: 'mine' } }], created: 0 })
      .configJSON([D2, D2, D2, D1]).history as Record<string, unknown>[];
    const mine = { created: '1970-01-01T00:00:00Z', created_by: 'mine' };
    // One entry for three layers: podman history credited the second base layer to ours.
    assert.deepEqual(history([{ created_by: 'a' }, { created_by: 'ENV', empty_layer: true }]), [{ created_by: 'a' }, { created_by: 'ENV', empty_layer: true }, {}, {}, mine]);
    assert.deepEqual(history([]), [{}, {}, {}, mine], 'none at all');
    const exact = [{ created_by: 'a' }, { created_by: 'b' }, { created_by: 'ENV', empty_layer: true }, { created_by: 'c' }];
    assert.deepEqual(history(exact), [...exact, mine], 'a history that matches is kept as it is');
    // More non-empty entries than layers: the first three are the layers', the later ones are marked
    // empty, as BuildKit's normalizeLayersAndHistory does.
    assert.deepEqual(history([{ created_by: 'a' }, { created_by: 'b' }, { created_by: 'c' }, { created_by: 'd' }]),
      [{ created_by: 'a' }, { created_by: 'b' }, { created_by: 'c' }, { created_by: 'd', empty_layer: true }, mine]);
    // An image that adds no layer keeps the base's history as it is (its config digest too).
    const noLayers = new Image({ base: { ...threeLayers, config: { ...threeLayers.config, history: [{ created_by: 'a' }] } }, created: 0 });
    assert.deepEqual(noLayers.configJSON([D2, D2, D2]).history, [{ created_by: 'a' }]);
  });

  it('hazard: a history entry given for an added layer cannot mark it empty_layer; other shapes are refused', () => {
    const layer = new Layer(Buffer.from('x'));
    assert.throws(() => new Image({ layers: [{ layer, history: { created_by: 'COPY', empty_layer: true } }] }), { code: 'ERR_OPTION_OUT_OF_RANGE', message: /layers\[0\]\.history\.empty_layer/ });
    assert.throws(() => new Image({ layers: [{ layer, history: 'COPY' as never }] }), { code: 'ERR_INVALID_OPTION' });
    assert.throws(() => new Image({ layers: [{ layer, history: { created_by: 1 } as never }] }), { code: 'ERR_INVALID_OPTION' });
    const given = { created_by: 'COPY', empty_layer: false };
    const image = new Image({ layers: [{ layer, history: given }], created: 0 });
    given.created_by = 'changed later';
    assert.deepEqual(image.configJSON([D1]).history, [{ created: '1970-01-01T00:00:00Z', created_by: 'COPY', empty_layer: false }]);
  });

  it('takes created from SOURCE_DATE_EPOCH, else the epoch, unless given', () => {
    assert.equal(resolveCreated(undefined, {}), '1970-01-01T00:00:00Z');
    assert.equal(resolveCreated(undefined, { SOURCE_DATE_EPOCH: '1700000000' }), '2023-11-14T22:13:20Z');
    assert.equal(resolveCreated('2024-01-02T03:04:05.5Z', { SOURCE_DATE_EPOCH: '1' }), '2024-01-02T03:04:05.500Z');
    assert.throws(() => resolveCreated(undefined, { SOURCE_DATE_EPOCH: 'yesterday' }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => resolveCreated(-1), { code: 'ERR_OPTION_OUT_OF_RANGE' });
  });

  it('serialises canonically: the same content in another key order gives the same bytes', () => {
    const a = canonicalJSON({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } });
    const b = canonicalJSON({ a: { d: [1, { y: 2, z: 1 }] }, b: 1 });
    assert.equal(a.toString(), '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
    assert.deepEqual(a, b);
  });

  it('refuses bad options with coded errors', () => {
    assert.throws(() => new Image({ env: ['NOEQUALS'] }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => new Image({ exposedPorts: ['http'] }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => new Image({ entrypoint: 'sh' as unknown as string[] }), { code: 'ERR_INVALID_OPTION' });
    assert.throws(() => new Image({ stopSignal: 'KILL ME' }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => new Image({ platform: 'linux' }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => new Image({ layers: ['not a layer' as unknown as Layer] }), { code: 'ERR_INVALID_OPTION' });
    assert.throws(() => new Image({ format: 'v1' as 'oci' }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => new Image({ tag: 'x' } as never), { code: 'ERR_INVALID_OPTION' });
  });
});

describe('manifests', () => {
  it('lists gzip layers with the media type of the manifest format, whatever the Layer reports', () => {
    assert.equal(layerMediaType(DOCKER_LAYER_GZIP, 'oci'), OCI_LAYER_GZIP);
    assert.equal(layerMediaType(OCI_LAYER_GZIP, 'docker'), DOCKER_LAYER_GZIP);
    assert.equal(layerMediaType(OCI_LAYER_UNCOMPRESSED, 'oci'), OCI_LAYER_UNCOMPRESSED);
    const m = buildManifest({ format: 'docker', config: { mediaType: 'x', digest: D1, size: 3 }, layers: [{ mediaType: OCI_LAYER_GZIP, digest: D2, size: 5 }] });
    const parsed = JSON.parse(m.bytes.toString());
    assert.equal(parsed.mediaType, DOCKER_MANIFEST);
    assert.equal(parsed.config.mediaType, 'application/vnd.docker.container.image.v1+json');
    assert.equal(parsed.layers[0].mediaType, DOCKER_LAYER_GZIP);
    const o = JSON.parse(buildManifest({ format: 'oci', config: { mediaType: 'x', digest: D1, size: 3 }, layers: [{ mediaType: DOCKER_LAYER_GZIP, digest: D2, size: 5 }], annotations: { k: 'v' } }).bytes.toString());
    assert.equal(o.mediaType, OCI_MANIFEST);
    assert.equal(o.layers[0].mediaType, OCI_LAYER_GZIP);
    assert.deepEqual(o.annotations, { k: 'v' });
  });

  it('Docker format refuses an uncompressed OCI layer and a zstd layer with ERR_IMAGE_FORMAT, before any I/O', () => {
    const uncompressed = new Layer(Buffer.from('x'), { compression: 'none' });
    assert.throws(() => new Image({ format: 'docker', layers: [uncompressed] }), { code: 'ERR_IMAGE_FORMAT', message: /uncompressed/ });
    assert.throws(() => new Image({ format: 'docker', layers: [known(OCI_LAYER_ZSTD)] }), { code: 'ERR_IMAGE_FORMAT', message: /zstd/ });
    assert.throws(() => buildManifest({ format: 'docker', config: { mediaType: 'x', digest: D1, size: 1 }, layers: [], annotations: { a: 'b' } }), { code: 'ERR_IMAGE_FORMAT' });
    assert.doesNotThrow(() => new Image({ format: 'oci', layers: [new Layer(Buffer.from('x'), { compression: 'none' })] }));
  });

  it('an index takes one image per platform, all of one format', () => {
    const amd = new Image({ platform: 'linux/amd64' });
    assert.throws(() => new ImageIndex([amd, new Image({ platform: 'linux/amd64' })]), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => new ImageIndex([amd, new Image({ platform: 'linux/arm64', format: 'docker' })]), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => new ImageIndex([]), { code: 'ERR_INVALID_OPTION' });
    assert.equal(new ImageIndex([amd, new Image({ platform: 'linux/arm/v7' })]).images.length, 2);
  });

  it('names: index entries carry the fully qualified name and the tag; platforms parse and match', () => {
    const e = indexEntries({ mediaType: OCI_MANIFEST, digest: D1, size: 1 }, ['docker.io/library/app:1', 'ghcr.io/o/a@' + D2]);
    assert.deepEqual(e[0]!.annotations, { 'io.containerd.image.name': 'docker.io/library/app:1', 'org.opencontainers.image.ref.name': '1' });
    assert.deepEqual(e[1]!.annotations, { 'io.containerd.image.name': `ghcr.io/o/a@${D2}` });
    assert.equal(familiar('docker.io/library/app:1'), 'app:1');
    assert.equal(familiar('docker.io/org/app:1'), 'org/app:1');
    assert.deepEqual(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.ok(platformMatches({ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }));
    // An arm/v7 machine runs a v6 image (containerd's platforms.Only), not the other way round.
    assert.ok(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'arm', variant: 'v7' }));
    assert.ok(!platformMatches({ os: 'linux', architecture: 'arm', variant: 'v7' }, { os: 'linux', architecture: 'arm', variant: 'v6' }));
    assert.equal(bytesBlob(Buffer.from('{}'), 'x').descriptor.digest, 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
  });
});
