// A base image's documents are hostile input: JSON that parses but is not the object it should be
// (null, an array, a number as index.json, a child index, a manifest or a config), a null entry of
// an index, or a descriptor whose annotations or platform have the wrong types, must each be the
// reader's coded error naming the document, never a TypeError from a property read further on.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { loadBase } from '../../src/build/base.js';
import { layoutSource } from '../../src/layout/source.js';
import { checkDescriptor } from '../../src/image/source.js';
import { tempDir } from '../helpers/tree.js';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const AMD64 = { os: 'linux', architecture: 'amd64' };

/** A layout directory; blob() stores a document and returns its descriptor. */
function layout(): { dir: string; blob(doc: unknown, mediaType: string, extra?: Record<string, unknown>): Record<string, unknown>; index(entries: unknown): void; remove(): void } {
  const t = tempDir('fastlayer-malformed-');
  fs.mkdirSync(join(t.path, 'blobs', 'sha256'), { recursive: true });
  fs.writeFileSync(join(t.path, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return {
    dir: t.path,
    blob(doc, mediaType, extra = {}) {
      const bytes = Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc));
      fs.writeFileSync(join(t.path, 'blobs', 'sha256', sha(bytes).slice(7)), bytes);
      return { mediaType, digest: sha(bytes), size: bytes.length, ...extra };
    },
    index(entries) {
      fs.writeFileSync(join(t.path, 'index.json'), typeof entries === 'string' ? entries : JSON.stringify({ schemaVersion: 2, manifests: entries }));
    },
    remove: t.remove,
  };
}

/** Rejects with `code` and a message naming `names`; a TypeError (no code) fails the assertion. */
async function refused(p: Promise<unknown>, code: string, names: string, what: string): Promise<void> {
  await assert.rejects(p, (err: Error & { code?: string }) => {
    assert.equal(err.code, code, `${what}: ${err.constructor.name}: ${err.message}`);
    assert.ok(err.message.includes(names), `${what}: the message names ${names}: ${err.message}`);
    return true;
  }, what);
}

const NOT_OBJECTS: [string, string][] = [['null', 'null'], ['an array', '[]'], ['a number', '5']];

describe('base images: well-formed JSON of the wrong shape is ERR_BASE_IMAGE naming the document', () => {
  it('index.json, a child index, a manifest or a config that is null, an array or a number', async () => {
    for (const [what, json] of NOT_OBJECTS) {
      const l = layout();
      try {
        // index.json itself.
        l.index(json);
        await refused(loadBase(l.dir), 'ERR_BASE_IMAGE', 'index.json', `index.json ${what}`);
        // A child index.
        const child = l.blob(json, OCI_INDEX);
        l.index([child]);
        await refused(loadBase(l.dir), 'ERR_BASE_IMAGE', child.digest as string, `child index ${what}`);
        // A manifest.
        const manifest = l.blob(json, OCI_MANIFEST);
        l.index([manifest]);
        await refused(loadBase(l.dir), 'ERR_BASE_IMAGE', manifest.digest as string, `manifest ${what}`);
        // A config.
        const config = l.blob(json, OCI_CONFIG);
        l.index([l.blob({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] }, OCI_MANIFEST)]);
        await refused(loadBase(l.dir), 'ERR_BASE_IMAGE', config.digest as string, `config ${what}`);
      } finally {
        l.remove();
      }
    }
  });

  it('a child index whose entries are null, or whose entry has a platform of the wrong types', async () => {
    const l = layout();
    try {
      const cases: [string, unknown[]][] = [
        ['a null entry', [null]],
        ['a number entry', [5]],
        ['os a number', [{ ...l.blob('{}', OCI_MANIFEST), platform: { os: 5, architecture: 'amd64' } }]],
        ['platform a string', [{ ...l.blob('{}', OCI_MANIFEST), platform: 'linux/amd64' }]],
        ['variant a number', [{ ...l.blob('{}', OCI_MANIFEST), platform: { ...AMD64, variant: 8 } }]],
      ];
      for (const [what, manifests] of cases) {
        const child = l.blob({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }, OCI_INDEX);
        l.index([child]);
        await refused(loadBase(l.dir), 'ERR_BASE_IMAGE', child.digest as string, what);
      }
    } finally {
      l.remove();
    }
  });
});

describe('descriptors: annotations and platform have the OCI types, or the source\'s error', () => {
  const fail = (message: string): Error => Object.assign(new Error(message), { code: 'ERR_TEST' });
  const base = { mediaType: OCI_MANIFEST, digest: sha('x'), size: 1 };

  it('checkDescriptor refuses annotations that are not a map of strings and platforms without string os/architecture', () => {
    const bad: [string, Record<string, unknown>][] = [
      ['an annotation a number', { annotations: { 'org.opencontainers.image.ref.name': 5 } }],
      ['an annotation null', { annotations: { a: null } }],
      ['annotations an array', { annotations: ['a'] }],
      ['annotations a string', { annotations: 'a' }],
      ['platform an array', { platform: [] }],
      ['platform without os', { platform: { architecture: 'amd64' } }],
      ['architecture a number', { platform: { os: 'linux', architecture: 1 } }],
      ['os.version a number', { platform: { ...AMD64, 'os.version': 10 } }],
      ['os.features a string', { platform: { ...AMD64, 'os.features': 'sse4' } }],
      ['os.features with a number', { platform: { ...AMD64, 'os.features': ['a', 1] } }],
      ['artifactType a number', { artifactType: 5 }],
      ['artifactType too long', { artifactType: `application/${'x'.repeat(255)}` }],
      ['urls a string', { urls: 'https://example.com/blob' }],
      ['urls with a number', { urls: ['https://example.com/blob', 1] }],
    ];
    for (const [what, extra] of bad) {
      assert.throws(() => checkDescriptor({ ...base, ...extra }, 'index.json manifest 0', fail), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_TEST', `${what}: ${err.message}`);
        assert.match(err.message, /^index\.json manifest 0: /, what);
        return true;
      }, what);
    }
    // What the spec allows passes, every member kept; null is no annotations (nothing to lose).
    const platform = { ...AMD64, variant: 'v2', 'os.version': '10.0', 'os.features': ['f'], extra: 1 };
    const d = checkDescriptor({ ...base, annotations: JSON.parse('{"a":"b","__proto__":"p"}') as unknown, platform }, 'd', fail);
    assert.deepEqual(d.platform, platform);
    assert.equal(Object.getOwnPropertyDescriptor(d.annotations, '__proto__')?.value, 'p');
    assert.equal(checkDescriptor({ ...base, annotations: null, platform: null }, 'd', fail).annotations, undefined);
    const referrer = checkDescriptor({ ...base, artifactType: 'application/spdx+json', urls: ['https://example.com/b'] }, 'd', fail);
    assert.equal(referrer.artifactType, 'application/spdx+json');
    assert.deepEqual(referrer.urls, ['https://example.com/b']);
  });

  it('choosing by name with a numeric ref.name is ERR_BASE_IMAGE / ERR_LAYOUT_INVALID, not "endsWith is not a function"', async () => {
    const l = layout();
    try {
      const config = l.blob({ ...AMD64, config: {}, rootfs: { type: 'layers', diff_ids: [] } }, OCI_CONFIG);
      const m = l.blob({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] }, OCI_MANIFEST);
      const other = l.blob({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [], annotations: { a: 'b' } }, OCI_MANIFEST);
      l.index([{ ...m, annotations: { 'org.opencontainers.image.ref.name': 5 } }, { ...other, annotations: { 'org.opencontainers.image.ref.name': 'x' } }]);
      await refused(loadBase(l.dir, { name: 'x' }), 'ERR_BASE_IMAGE', 'index.json', 'loadBase');
      await refused(layoutSource(l.dir, 'x').then((s) => s.top()), 'ERR_LAYOUT_INVALID', 'index.json', 'layoutSource');
      // The same layout with string annotations loads by name.
      l.index([{ ...m, annotations: { 'org.opencontainers.image.ref.name': 'y' } }, { ...other, annotations: { 'org.opencontainers.image.ref.name': 'x' } }]);
      assert.equal((await loadBase(l.dir, { name: 'x' })).config.os, 'linux');
    } finally {
      l.remove();
    }
  });
});
