// hazard: in a cache directory other users can write (`--layer-cache-dir /tmp`), an entry planted by
// another user (a wrong size fails every build that trusts it) is a miss: never read, never removed.
// In a directory only its owner can write, every entry is trusted (a runner's cache mounted into a
// container that runs as root still hits).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LayerCache, cachedDirectoryLayer } from '../../src/build/layer-cache.js';
import type { Layer } from '../../src/layer/layer.js';
import { tempDir } from '../helpers/tree.js';

const tmp = tempDir('fastlayer-layer-cache-owner-');
after(() => tmp.remove());

describe('hazard: another user\'s layer cache entry', { skip: typeof process.getuid !== 'function' ? 'no uids on this platform' : false }, () => {
  it('is a miss in a directory others can write, and is left in place; a hit in one only its owner can', async () => {
    const dir = join(tmp.path, 'tree');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'f'), 'hello\n');
    const cache = new LayerCache(join(tmp.path, 'cache'));
    const first = await cachedDirectoryLayer(dir, { mtime: 0 }, { compressionLevel: 1, cache });
    for await (const _ of (first as { layer: Layer }).layer.compressed());
    await cache.settled();
    const [name] = readdirSync(cache.dir);
    assert.equal((await cachedDirectoryLayer(dir, { mtime: 0 }, { compressionLevel: 1, cache })).kind, 'known', 'our own entry is a hit');
    // The same file seen by another user: its owner is not them.
    const getuid = process.getuid;
    const uid = getuid!();
    process.getuid = () => uid + 1;
    try {
      chmodSync(cache.dir, 0o755);
      assert.equal((await cachedDirectoryLayer(dir, { mtime: 0 }, { compressionLevel: 1, cache })).kind, 'known', 'a private directory: a hit');
      chmodSync(cache.dir, 0o1777);
      assert.equal((await cachedDirectoryLayer(dir, { mtime: 0 }, { compressionLevel: 1, cache })).kind, 'streaming', 'a directory others can write: a miss');
      assert.ok(existsSync(join(cache.dir, name!)), 'not removed');
    } finally {
      process.getuid = getuid;
      chmodSync(cache.dir, 0o755);
    }
  });
});
