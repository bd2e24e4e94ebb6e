// build/cache-use.ts wraps the destination of a build that uses a layer cache. A wrapper that drops an
// optional Destination method turns a feature off without a word (it once dropped addReferrer, and an
// SBOM with a push failed as "this destination cannot hold referrers").
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { presentKey, remembering } from '../../src/build/cache-use.js';
import type { Descriptor, Destination } from '../../src/image/types.js';

const D: Descriptor = { mediaType: 'application/octet-stream', digest: `sha256:${'a'.repeat(64)}`, size: 1 };

describe('build/cache-use: the remembering destination', () => {
  it('forwards every method of Destination, optional ones included, to the destination it wraps', async () => {
    const calls: string[] = [];
    // Required<Destination>: a method added to Destination must be added here, and is then checked.
    const full: Required<Destination> = {
      concurrency: 3,
      spoolAhead: true,
      has: async () => { calls.push('has'); return false; },
      writeBlob: async () => { calls.push('writeBlob'); return D; },
      writeManifest: async () => { calls.push('writeManifest'); },
      resolveNames: (names) => { calls.push('resolveNames'); return [...names]; },
      addReferrer: async () => { calls.push('addReferrer'); },
      commit: async () => { calls.push('commit'); },
      abort: async () => { calls.push('abort'); },
    };
    const wrapped = remembering(full, new Set([presentKey(D)])) as Required<Destination>;
    for (const key of Object.keys(full) as (keyof Destination)[]) assert.equal(typeof wrapped[key], typeof full[key], key);
    assert.equal(wrapped.concurrency, 3);
    assert.equal(wrapped.spoolAhead, true);
    assert.equal(await wrapped.has(D), true, 'a blob found present answers at once');
    assert.equal(await wrapped.has({ ...D, size: D.size + 1 }), false, 'the same digest with another size is asked again');
    assert.equal(await wrapped.has({ ...D, digest: `sha256:${'b'.repeat(64)}` }), false);
    const m = { descriptor: D, bytes: Buffer.from('{}') };
    await wrapped.writeBlob({ descriptor: D, open: () => { throw new Error('unused'); } } as never);
    await wrapped.writeManifest(m);
    wrapped.resolveNames(['a']);
    await wrapped.addReferrer(m, D);
    await wrapped.commit(m, []);
    await wrapped.abort(new Error('x'));
    assert.deepEqual(calls, ['has', 'has', 'writeBlob', 'writeManifest', 'resolveNames', 'addReferrer', 'commit', 'abort']);
  });

  it('leaves out what the wrapped destination does not have', () => {
    const bare: Destination = { concurrency: 1, has: async () => false, writeBlob: async () => D, writeManifest: async () => {}, commit: async () => {}, abort: async () => {} };
    const wrapped = remembering(bare, new Set());
    assert.equal('addReferrer' in wrapped, false);
    assert.equal('resolveNames' in wrapped, false);
  });
});
