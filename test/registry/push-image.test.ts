// pushImage: an image built from a directory with the images API, pushed to a real registry
// (docker-registry) with its layer streamed into the upload, read back by skopeo.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Layer } from '../../src/layer/layer.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { Image } from '../../src/image/image.js';
import { writeLayout } from '../../src/layout/layout.js';
import { loadBase } from '../../src/build/base.js';
import { pushImage } from '../../src/registry/push.js';
import type { WriteProgress } from '../../src/image/write.js';
import { pull } from '../../src/registry/pull.js';
import type { ProgressEvent } from '../../src/registry/destination.js';
import { randomBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';
import { registryMissing, skopeoMissing, startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { skopeo } from '../helpers/registry-image.js';

const missing = registryMissing();

function imageOf(dir: string): Image {
  return new Image({ layers: [new Layer(tarDirectory(dir, { mtime: 0 }), { compressionLevel: 1 })], entrypoint: ['/bin/app'], env: { A: '1' } });
}

describe('pushImage (docker-registry, no auth)', { skip: missing }, () => {
  let registry: RunningRegistry;
  const tmp = tempDir();
  const src = join(tmp.path, 'src');

  before(async () => {
    registry = await startRegistry();
    mkdirSync(join(src, 'bin'), { recursive: true });
    writeFileSync(join(src, 'bin', 'app'), randomBytes(3_000_000, 5), { mode: 0o755 });
    writeFileSync(join(src, 'README'), 'hello\n'.repeat(10_000));
  });
  after(async () => {
    await registry?.stop();
    tmp.remove();
  });

  it('streams a directory image into the registry; skopeo reads it back with matching digests', async (t) => {
    const ref = `${registry.host}/push/app:1`;
    const events: ProgressEvent[] = [];
    const result = await pushImage(imageOf(src), ref, { names: [`${registry.host}/push/app:latest`], onProgress: (e) => events.push(e) });
    const layer = result.images[0]!.layers[0]!;
    assert.ok(events.some((e) => e.state === 'done' && e.digest === layer.digest && e.bytes === layer.size), 'the layer was uploaded, its size reported');
    const pulled = await pull(ref);
    assert.equal(pulled.manifest.descriptor.digest, result.digest);
    assert.equal((await pull(`${registry.host}/push/app:latest`)).manifest.descriptor.digest, result.digest, 'the extra name in the same repository is a tag too');
    const tags = (await (await fetch(`http://${registry.host}/v2/push/app/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual([...tags.tags].sort(), ['1', 'latest']);
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    const info = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${ref}`])) as { Digest: string; Layers: string[] };
    assert.equal(info.Digest, result.digest);
    assert.deepEqual(info.Layers, [layer.digest]);
    const config = JSON.parse(skopeo(['inspect', '--config', '--tls-verify=false', `docker://${ref}`])) as { rootfs: { diff_ids: string[] }; config: { Entrypoint: string[] } };
    assert.deepEqual(config.rootfs.diff_ids, result.images[0]!.diffIDs);
    assert.deepEqual(config.config.Entrypoint, ['/bin/app']);
  });

  it('pushing the same image again (its layers now known blobs) uploads no layer bytes', async () => {
    // The same tree as an OCI layout, then as the base of an image: every layer has a known digest.
    const layout = join(tmp.path, 'layout');
    const written = await writeLayout(imageOf(src), layout, { names: ['app:1'] });
    const ref = `${registry.host}/push/app:2`;
    const events: ProgressEvent[] = [];
    const writes: WriteProgress[] = [];
    const again = await pushImage(new Image({ base: await loadBase(layout) }), ref, { onProgress: (e) => events.push(e), onWrite: (e) => writes.push(e) });
    const layerDigest = written.images[0]!.layers[0]!.digest;
    const blob = writes.find((e) => e.type === 'blob' && e.digest === layerDigest);
    assert.ok(blob && blob.type === 'blob' && blob.skipped, `the layer was found in the repository and skipped: ${JSON.stringify(writes)}`);
    assert.deepEqual(events.filter((e) => e.digest === layerDigest && e.bytes > 0), [], 'no layer bytes sent');
    assert.equal((await pull(ref)).layers[0]!.descriptor.digest, layerDigest);
    assert.equal(again.images[0]!.layers[0]!.digest, layerDigest);
  });

  it('an aborted push writes no tag', async () => {
    const controller = new AbortController();
    const ref = `${registry.host}/push/aborted:1`;
    const pushing = pushImage(imageOf(src), ref, {
      signal: controller.signal,
      onProgress: (e) => {
        if (e.state === 'uploading' && e.bytes > 0) controller.abort(new Error('stop'));
      },
    });
    await assert.rejects(pushing);
    const res = await fetch(`http://${registry.host}/v2/push/aborted/tags/list`);
    const body = res.status === 200 ? ((await res.json()) as { tags: string[] | null }) : { tags: null };
    assert.ok(body.tags === null || body.tags.length === 0, `no tag: ${JSON.stringify(body)}`);
  });
});
