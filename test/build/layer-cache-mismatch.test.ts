// A local layer cache entry that the bytes made again prove wrong is removed by the write it fails,
// whatever the way it is wrong: a size smaller than the blob (the destination's check fails at the
// first extra byte, so the layer never completes), a larger size, another digest, an eStargz entry. A
// tree changed between the passes leaves the entry be. Without this, every --oci-dir or --output build
// would fail the same way until the cache directory is removed by hand.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buildImage } from '../../src/build/build.js';
import { LayerCache, cachedLayer } from '../../src/build/layer-cache.js';
import { Image } from '../../src/image/image.js';
import type { Layer } from '../../src/layer/layer.js';
import { writeLayout } from '../../src/layout/layout.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { randomBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';

const tmp = tempDir('fastlayer-layer-cache-mismatch-');
after(() => tmp.remove());
let n = 0;

function tree(): string {
  const dir = join(tmp.path, `tree${++n}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'app'), randomBytes(8_000_000, n));
  writeFileSync(join(dir, 'README'), 'hello\n'.repeat(5000));
  return dir;
}

function entries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
}

/** Rewrites the one entry of `cache` with `edit`. */
function editEntry(cache: string, edit: (e: { digest: string; size: number }) => void): void {
  const [name] = entries(cache);
  const path = join(cache, name!);
  const e = JSON.parse(readFileSync(path, 'utf8')) as { digest: string; size: number };
  edit(e);
  writeFileSync(path, JSON.stringify(e));
}

describe('hazard: a wrong local layer cache entry is removed by the build it fails', () => {
  const cases: [string, (e: { digest: string; size: number }) => void, 'estargz'?][] = [
    ['a size smaller than the blob', (e) => void (e.size -= 100)],
    ['a size far smaller than the blob', (e) => void (e.size = 100)],
    ['a size larger than the blob', (e) => void (e.size += 1000)],
    ['another digest', (e) => void (e.digest = `sha256:${'d'.repeat(64)}`)],
    ['a size smaller than the blob (eStargz)', (e) => void (e.size -= 100), 'estargz'],
  ];
  for (const [what, edit, compression] of cases) {
    it(`${what}: one --oci-dir build fails coded, the entry is gone when it returns, the next build succeeds`, async () => {
      const dir = tree();
      const cache = join(tmp.path, `cache${++n}`);
      const spec = { layers: [dir], mtime: '0', tags: ['app:1'], compressionLevel: 1, layerCache: cache, ...(compression === undefined ? {} : { layerOptions: { compression } }) };
      const first = await buildImage({ ...spec, ociDir: join(tmp.path, `o${++n}`) });
      assert.equal(entries(cache).length, 1);
      editEntry(cache, edit);
      await assert.rejects(buildImage({ ...spec, ociDir: join(tmp.path, `o${++n}`) }), { code: 'ERR_DIGEST_MISMATCH' });
      // No settled() here: buildImage waits for the removal before it rejects (the CLI exits then).
      assert.deepEqual(entries(cache), [], 'the wrong entry is gone');
      const again = await buildImage({ ...spec, ociDir: join(tmp.path, `o${++n}`) });
      assert.equal(again.digest, first.digest);
      assert.equal(entries(cache).length, 1, 'the right entry was written');
    });
  }

  it('a tree grown between the passes fails the write but leaves the entry of the unchanged tree be', async () => {
    const dir = tree();
    const cache = new LayerCache(join(tmp.path, `cache${++n}`));
    const tarOf = async (): Promise<Buffer> => {
      const chunks: Uint8Array[] = [];
      for await (const c of tarDirectory(dir, { mtime: 0 })) chunks.push(c);
      return Buffer.concat(chunks);
    };
    const was = await tarOf();
    writeFileSync(join(dir, 'app'), randomBytes(500_000, 900));
    const grown = await tarOf();
    const first = await cachedLayer(() => Readable.from([was]), { compressionLevel: 1, cache });
    assert.equal(first.kind, 'streaming');
    for await (const _ of (first as { layer: Layer }).layer.compressed());
    await cache.settled();
    const before = readFileSync(join(cache.dir, entries(cache.dir)[0]!), 'utf8');
    // Read for the layer (unused on a hit) and the hash pass as it was; grown from the write on.
    let calls = 0;
    const blob = await cachedLayer(() => Readable.from([++calls <= 2 ? was : grown]), { compressionLevel: 1, cache });
    assert.equal(blob.kind, 'known');
    await assert.rejects(writeLayout(new Image({ layers: [blob] }), join(tmp.path, `o${++n}`)), { code: 'ERR_DIGEST_MISMATCH' });
    await cache.settled();
    assert.equal(readFileSync(join(cache.dir, entries(cache.dir)[0]!), 'utf8'), before, 'the entry stays');
  });
});
