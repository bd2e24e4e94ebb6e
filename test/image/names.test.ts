// The one rule for choosing an image of index.json by name (src/image/names.ts), which loadBase,
// push (layoutSource) and inspect share: a ref.name, a containerd name, a tag, or a name normalised.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isNamed, namedEntries, CONTAINERD_NAME, REF_NAME } from '../../src/image/names.js';
import type { Descriptor } from '../../src/image/types.js';

const entry = (n: number, annotations?: Record<string, string>, artifactType?: string): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  size: 10,
  ...(annotations ? { annotations } : {}),
  ...(artifactType ? { artifactType } : {}),
});

describe('names: choosing an image of index.json', () => {
  const app = entry(1, { [CONTAINERD_NAME]: 'docker.io/library/app:1', [REF_NAME]: '1' });
  const appAgain = entry(1, { [CONTAINERD_NAME]: 'docker.io/library/app:latest', [REF_NAME]: 'latest' });
  const other = entry(2, { [REF_NAME]: 'ghcr.io/o/other:1' });
  const sbom = entry(3, { [REF_NAME]: '1' }, 'application/spdx+json');

  it('a name matches by ref.name, containerd name, tag or normalised reference; a malformed one matches nothing else', () => {
    assert.equal(isNamed(app, 'app:1'), true, 'normalised');
    assert.equal(isNamed(app, 'docker.io/library/app:1'), true);
    assert.equal(isNamed(app, '1'), true, 'ref.name');
    assert.equal(isNamed(other, '1'), true, 'a tag of a full ref.name');
    assert.equal(isNamed(other, 'ghcr.io/o/other:1'), true);
    assert.equal(isNamed(app, 'app:2'), false);
    assert.equal(isNamed(app, 'Not A Name'), false);
    assert.equal(isNamed(entry(4), 'app:1'), false, 'no annotations');
  });

  it('namedEntries: one entry per image (several names of one digest), referrers left out', () => {
    assert.deepEqual(namedEntries([app, appAgain, other, sbom], undefined).map((d) => d.digest), [app.digest, other.digest]);
    assert.deepEqual(namedEntries([app, appAgain, other, sbom], 'app:latest'), [appAgain]);
    assert.deepEqual(namedEntries([app, appAgain, other, sbom], '1').map((d) => d.digest), [app.digest, other.digest], 'ambiguous: the caller refuses');
    assert.deepEqual(namedEntries([app, other], 'nope'), []);
  });
});
