// SBOMs attached as OCI 1.1 referrers (image/referrer.ts, Destination.addReferrer): the artifact
// manifest's shape, a layout's and an archive's index.json listing it beside the image, and a real
// registry without the referrers API (docker-registry 2.8) given the `sha256-<hex>` tag fallback,
// merged when a second artifact is attached.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage } from '../../src/build/build.js';
import { buildNodeImage } from '../../src/build/node.js';
import { generateSbom } from '../../src/build/sbom.js';
import { writeImage } from '../../src/image/write.js';
import { Image } from '../../src/image/image.js';
import { artifactManifest, EMPTY_BYTES } from '../../src/image/referrer.js';
import { OCI_EMPTY } from '../../src/core/media-types.js';
import type { Blob, Descriptor, Destination, ManifestBlob } from '../../src/image/types.js';
import { RegistryDestination } from '../../src/registry/destination.js';
import { listReferrers, referrersTag } from '../../src/registry/referrers.js';
import { connect, pushScope } from '../../src/registry/client.js';
import { getManifest } from '../../src/registry/manifest.js';
import { tempDir } from '../helpers/tree.js';
import { binMissing, runCli } from '../helpers/cli.js';
import { loadBase } from '../../src/build/base.js';
import { pushLayout } from '../../src/registry/layout.js';
import { registryMissing, startRegistry, type RunningRegistry } from '../helpers/registry.js';

const dirs: { remove(): void }[] = [];
after(() => dirs.forEach((d) => d.remove()));

function temp(): string {
  const t = tempDir();
  dirs.push(t);
  return t.path;
}

/** A Node project with a v3 lockfile and a source file: an image layer and an SBOM. */
function project(): string {
  const dir = temp();
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'web', version: '2.0.0', main: 'server.js' }));
  writeFileSync(join(dir, 'server.js'), 'console.log(1)\n');
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({
    name: 'web', lockfileVersion: 3,
    packages: { '': { name: 'web', version: '2.0.0' }, 'node_modules/ms': { version: '2.1.3', resolved: 'https://registry.npmjs.org/ms/-/ms-2.1.3.tgz' } },
  }));
  mkdirSync(join(dir, 'node_modules/ms'), { recursive: true });
  writeFileSync(join(dir, 'node_modules/ms/package.json'), '{"name":"ms","license":"MIT"}');
  return dir;
}

type Manifest = { artifactType?: string; config: Descriptor; layers: Descriptor[]; subject?: Descriptor; mediaType: string };

function blob(layout: string, digest: string): Buffer {
  return readFileSync(join(layout, 'blobs/sha256', digest.slice(7)));
}

describe('artifactManifest: the OCI 1.1 shape', () => {
  it('empty config {} (2 bytes), one layer the content, subject the image, artifactType', () => {
    const subject: Descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 7 };
    const a = artifactManifest(subject, { mediaType: 'application/spdx+json', bytes: Buffer.from('{"x":1}') });
    const m = JSON.parse(a.manifest.bytes.toString()) as Manifest & { schemaVersion: number };
    assert.equal(m.schemaVersion, 2);
    assert.equal(m.artifactType, 'application/spdx+json');
    assert.deepEqual(m.config, { mediaType: OCI_EMPTY, digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 });
    assert.equal(EMPTY_BYTES.toString(), '{}');
    assert.equal(m.layers.length, 1);
    assert.equal(m.layers[0]!.mediaType, 'application/spdx+json');
    assert.deepEqual(m.subject, subject);
    assert.equal(a.manifest.descriptor.artifactType, 'application/spdx+json');
  });
});

describe('buildImage({ sbom }) into layouts and archives', () => {
  it('a layout lists the artifact manifest in index.json beside the image; a second image keeps the first one\'s', async () => {
    const dir = project();
    const layout = join(temp(), 'oci');
    const r = await buildImage({ layers: [dir], tags: ['web:1'], mtime: 0, ociDir: layout, sbom: dir });
    assert.equal(r.referrers?.length, 1);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
    const art = index.manifests.find((d) => d.artifactType === 'application/spdx+json')!;
    assert.equal(art.digest, r.referrers![0]!.digest);
    assert.equal(art.annotations, undefined, 'the artifact is not a named image');
    const m = JSON.parse(blob(layout, art.digest).toString()) as Manifest;
    assert.deepEqual(m.subject, r.descriptor);
    assert.equal(blob(layout, m.config.digest).toString(), '{}');
    assert.ok(blob(layout, m.layers[0]!.digest).equals((await generateSbom(dir)).bytes));
    // Another image (a new layer) with its SBOM into the same layout: both artifacts stay listed.
    writeFileSync(join(dir, 'server.js'), 'console.log(2)\n');
    const r2 = await buildImage({ layers: [dir], tags: ['web:2'], mtime: 0, ociDir: layout, sbom: dir });
    const again = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
    const arts = again.manifests.filter((d) => d.artifactType === 'application/spdx+json').map((d) => d.digest).sort();
    assert.deepEqual(arts, [r.referrers![0]!.digest, r2.referrers![0]!.digest].sort());
    assert.equal(again.manifests.length, 4);
    // umoci, a reader of layouts, still lists the image's tags.
    if (existsSync('/usr/bin/umoci')) assert.deepEqual(execFileSync('umoci', ['ls', '--layout', layout], { encoding: 'utf8' }).trim().split('\n').sort(), ['1', '2']);
  });

  it('buildNodeImage({ sbom: true }) attaches the project\'s SBOM', async () => {
    const dir = project();
    const layout = join(temp(), 'oci');
    const r = await buildNodeImage({ dir, tags: ['web:1'], ociDir: layout, sbom: true });
    const m = JSON.parse(blob(layout, r.referrers![0]!.digest).toString()) as Manifest;
    assert.equal(m.subject!.digest, r.digest);
    const doc = JSON.parse(blob(layout, m.layers[0]!.digest).toString()) as { packages: { name: string }[] };
    assert.deepEqual(doc.packages.map((p) => p.name).sort(), ['ms', 'web']);
  });

  it('an archive\'s index.json lists the artifact beside the image, its blobs inside', async () => {
    const dir = project();
    const out = join(temp(), 'web.tar');
    const r = await buildImage({ layers: [dir], tags: ['web:1'], mtime: 0, output: out, sbom: dir });
    const index = JSON.parse(execFileSync('tar', ['-xOf', out, 'index.json'], { encoding: 'utf8' })) as { manifests: Descriptor[] };
    assert.deepEqual(index.manifests.map((d) => d.digest), [r.digest, r.referrers![0]!.digest]);
    const m = JSON.parse(execFileSync('tar', ['-xOf', out, `blobs/sha256/${r.referrers![0]!.digest.slice(7)}`], { encoding: 'utf8' })) as Manifest;
    assert.equal(m.subject!.digest, r.digest);
    execFileSync('tar', ['-tf', out, `blobs/sha256/${m.layers[0]!.digest.slice(7)}`]);
  });

  it('hazard: a project without a usable lockfile writes nothing (ERR_SBOM_LOCKFILE before any byte)', async () => {
    const dir = temp();
    writeFileSync(join(dir, 'a.txt'), 'a');
    const layout = join(temp(), 'oci');
    await assert.rejects(buildImage({ layers: [dir], tags: ['web:1'], ociDir: layout, sbom: dir }), { code: 'ERR_SBOM_LOCKFILE' });
    assert.equal(existsSync(layout), false);
  });

  it('hazard: a destination that cannot list referrers is refused before anything is written', async () => {
    let writes = 0;
    const dest: Destination = {
      concurrency: 1,
      has: async () => false,
      writeBlob: async (b: Blob) => {
        writes++;
        return (b as { descriptor: Descriptor }).descriptor;
      },
      writeManifest: async (_m: ManifestBlob) => {
        writes++;
      },
      commit: async () => undefined,
      abort: async () => undefined,
    };
    const image = new Image({ layers: [] });
    await assert.rejects(writeImage(image, dest, { referrers: [{ mediaType: 'application/spdx+json', bytes: Buffer.from('{}') }] }), { code: 'ERR_INVALID_OPTION' });
    assert.equal(writes, 0);
  });
});

const missing = registryMissing();

describe('referrers in a registry without the referrers API (docker-registry)', { skip: missing }, () => {
  let registry: RunningRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
  });

  function target(repo: string) {
    const r = connect(`${registry.host}/${repo}`);
    return { transport: r.transport, repository: r.repository, scopes: [pushScope(r.repository)] };
  }

  it('the artifact is pushed and listed through the sha256-<hex> tag; a second one is merged in, the first kept', async () => {
    const dir = project();
    const r = await buildImage({ layers: [dir], tags: ['latest'], mtime: 0, destination: new RegistryDestination(`${registry.host}/sbom/web:1`), sbom: dir });
    const t = target('sbom/web');
    const first = await listReferrers(t, r.digest);
    assert.equal(first.via, 'tag', 'docker-registry 2.8 has no referrers API');
    assert.deepEqual(first.referrers.map((d) => [d.digest, d.artifactType]), [[r.referrers![0]!.digest, 'application/spdx+json']]);
    const tagged = await getManifest(t, referrersTag(r.digest));
    assert.equal(tagged.descriptor.mediaType, 'application/vnd.oci.image.index.v1+json');
    const m = JSON.parse((await getManifest(t, r.referrers![0]!.digest)).bytes.toString()) as Manifest;
    assert.equal(m.subject!.digest, r.digest);
    // The same image again, with an SBOM of another time: a second artifact for the same subject.
    const r2 = await buildImage({ layers: [dir], tags: ['latest'], mtime: 0, destination: new RegistryDestination(`${registry.host}/sbom/web:1`), sbom: { dir, created: '2024-01-01T00:00:00Z' } });
    assert.equal(r2.digest, r.digest);
    assert.notEqual(r2.referrers![0]!.digest, r.referrers![0]!.digest);
    const both = await listReferrers(t, r.digest);
    assert.deepEqual(both.referrers.map((d) => d.digest).sort(), [r.referrers![0]!.digest, r2.referrers![0]!.digest].sort());
    // Attaching the first again does not list it twice.
    await buildImage({ layers: [dir], tags: ['latest'], mtime: 0, destination: new RegistryDestination(`${registry.host}/sbom/web:1`), sbom: dir });
    assert.equal((await listReferrers(t, r.digest)).referrers.length, 2);
  });

  it('pushLayout of a layout with an SBOM pushes the image (the referrer entry is not a second image)', async () => {
    const dir = project();
    const layout = join(temp(), 'oci');
    const r = await buildImage({ layers: [dir], tags: ['web:1'], mtime: 0, ociDir: layout, sbom: dir });
    const pushed = await pushLayout(layout, `${registry.host}/sbom/pushed:other`);
    assert.equal(pushed.digest, r.digest);
  });

  it('fastlayer image --push --sbom, then inspect --referrers finds it through the tag fallback', () => {
    const dir = project();
    const ref = `${registry.host}/sbom/cli:1`;
    const built = runCli(['image', '--layer', dir, '--push', ref, '--sbom', dir, '--mtime', '0', '--json']);
    assert.equal(built.status, 0, built.stderr);
    const r = runCli(['inspect', `docker://${ref}`, '--referrers', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout.toString()) as { referrers: Descriptor[]; referrersVia: string };
    assert.equal(doc.referrersVia, 'tag');
    assert.deepEqual(doc.referrers.map((d) => d.artifactType), ['application/spdx+json']);
  });

  it('hazard: a sha256-<hex> tag holding something else is not overwritten (ERR_REGISTRY_PROTOCOL)', async () => {
    const dir = project();
    const r = await buildImage({ layers: [dir], tags: ['latest'], mtime: 0, destination: new RegistryDestination(`${registry.host}/sbom/other:1`) });
    // Put the image manifest itself under the fallback tag: not an index.
    await buildImage({ layers: [dir], tags: [referrersTag(r.digest)], mtime: 0, destination: new RegistryDestination(`${registry.host}/sbom/other:1`) });
    await assert.rejects(
      buildImage({ layers: [dir], tags: ['latest'], mtime: 0, destination: new RegistryDestination(`${registry.host}/sbom/other:1`), sbom: dir }),
      (e: unknown) => (e as { code?: string }).code === 'ERR_REGISTRY_PROTOCOL' && /not the OCI index of referrers/.test((e as Error).message),
    );
  });
});

describe('fastlayer image --sbom DIR and inspect --referrers (CLI)', { skip: binMissing() }, () => {
  it('an OCI layout: the SBOM attached; inspect lists it, and still picks the image without --name', () => {
    const dir = project();
    const layout = join(temp(), 'oci');
    const built = runCli(['image', '--layer', dir, '--tag', 'web:1', '--oci-dir', layout, '--sbom', dir, '--mtime', '0', '--json']);
    assert.equal(built.status, 0, built.stderr);
    const digest = (JSON.parse(built.stdout.toString()) as { digest: string }).digest;
    const plain = runCli(['inspect', layout, '--json']);
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal((JSON.parse(plain.stdout.toString()) as { referrers?: unknown }).referrers, undefined);
    const r = runCli(['inspect', layout, '--referrers', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout.toString()) as { manifest: { descriptor: Descriptor }; referrers: Descriptor[]; referrersVia: string };
    assert.equal(doc.manifest.descriptor.digest, digest);
    assert.equal(doc.referrersVia, 'index.json');
    assert.deepEqual(doc.referrers.map((d) => d.artifactType), ['application/spdx+json']);
    const text = runCli(['inspect', layout, '--referrers']);
    assert.match(text.stdout.toString(), /referrers: 1 \(index\.json\)\n  sha256:[0-9a-f]{64}  application\/spdx\+json/);
  });

  it('hazard: --sbom on a directory without a lockfile is a coded error and no output', () => {
    const dir = temp();
    writeFileSync(join(dir, 'a'), 'a');
    const layout = join(temp(), 'oci');
    const r = runCli(['image', '--layer', dir, '--tag', 'web:1', '--oci-dir', layout, '--sbom', dir]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ERR_SBOM_LOCKFILE|package-lock\.json/);
    assert.equal(existsSync(layout), false);
    assert.equal(runCli(['image', '--layer', dir, '--tag', 'web:1', '--oci-dir', layout, '--sbom', '']).status, 2);
  });
});

describe('a layout holding an SBOM beside the image stays usable', () => {
  it('as a --base (loadBase) and for pushLayout: the referrer entry is not taken for a second image', async () => {
    const dir = project();
    const layout = join(temp(), 'oci');
    const r = await buildImage({ layers: [dir], tags: ['web:1'], mtime: 0, ociDir: layout, sbom: dir });
    const base = await loadBase(layout);
    const layers = base.layers();
    assert.equal(layers.length, 1);
    assert.equal(layers[0]!.kind === 'known' ? layers[0]!.descriptor.digest : '', r.images[0]!.layers[0]!.digest);
  });
});
