// The SPDX generator (build/sbom.ts): lockfiles v2 and v3, scoped names, licenses read safely from
// node_modules, integrity as hex checksums, coded errors for lockfiles it cannot use, and every
// document checked against the SPDX 2.3 JSON schema from spdx/spdx-spec (test/fixtures), with the
// small validator in helpers/json-schema.ts.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { generateSbom, integrityChecksums, npmPurl, packageNameOf } from '../../src/build/sbom.js';
import { ErrSbomLockfile } from '../../src/build/errors.js';
import { tempDir } from '../helpers/tree.js';
import { validateSchema } from '../helpers/json-schema.js';

const SCHEMA = JSON.parse(readFileSync(new URL('../../../test/fixtures/spdx-2.3-schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const dirs: { remove(): void }[] = [];
after(() => dirs.forEach((d) => d.remove()));

function sri(alg: string, text: string): { sri: string; hex: string } {
  const digest = createHash(alg).update(text).digest();
  return { sri: `${alg}-${digest.toString('base64')}`, hex: digest.toString('hex') };
}

const EXPRESS = sri('sha512', 'express');
const SCOPED = sri('sha1', 'scoped');

/** A project with a lockfile of `version` and node_modules as npm installs it. */
function project(version: number, extra: Record<string, unknown> = {}): string {
  const t = tempDir();
  dirs.push(t);
  const dir = t.path;
  const packages: Record<string, unknown> = {
    '': { name: 'demo-app', version: '1.0.0', license: 'ISC', dependencies: { express: '^4', '@types/node': '^20' } },
    'node_modules/express': { version: '4.19.2', resolved: 'https://registry.npmjs.org/express/-/express-4.19.2.tgz', integrity: EXPRESS.sri },
    'node_modules/@types/node': { version: '20.1.0', resolved: 'https://registry.npmjs.org/@types/node/-/node-20.1.0.tgz', integrity: SCOPED.sri },
    'node_modules/express/node_modules/debug': { version: '2.6.9' },
    ...extra,
  };
  const lock: Record<string, unknown> = { name: 'demo-app', version: '1.0.0', lockfileVersion: version, requires: true, packages };
  if (version === 2) lock.dependencies = { express: { version: '4.19.2' } };
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock));
  for (const [path, license] of [['node_modules/express', 'MIT'], ['node_modules/@types/node', 'MIT'], ['node_modules/express/node_modules/debug', { type: 'BSD-3-Clause' }]] as const) {
    mkdirSync(join(dir, path), { recursive: true });
    writeFileSync(join(dir, path, 'package.json'), JSON.stringify({ name: path.split('node_modules/').pop(), license }));
  }
  return dir;
}

type Pkg = { SPDXID: string; name: string; versionInfo?: string; downloadLocation: string; licenseDeclared: string; checksums?: { algorithm: string; checksumValue: string }[]; externalRefs?: { referenceLocator: string }[] };

function byName(doc: Record<string, unknown>): Map<string, Pkg> {
  return new Map((doc.packages as Pkg[]).map((p) => [p.name, p]));
}

describe('generateSbom: SPDX 2.3 from package-lock.json', () => {
  for (const version of [2, 3]) {
    it(`lockfile v${version}: names (scoped, nested), versions, resolved, hex checksums, licenses, purls, relationships`, async () => {
      const { document: doc } = await generateSbom(project(version));
      assert.deepEqual(validateSchema(SCHEMA, doc), []);
      const pkgs = byName(doc);
      assert.deepEqual([...pkgs.keys()].sort(), ['@types/node', 'debug', 'demo-app', 'express']);
      const express = pkgs.get('express')!;
      assert.equal(express.versionInfo, '4.19.2');
      assert.equal(express.downloadLocation, 'https://registry.npmjs.org/express/-/express-4.19.2.tgz');
      assert.deepEqual(express.checksums, [{ algorithm: 'SHA512', checksumValue: EXPRESS.hex }]);
      assert.equal(express.licenseDeclared, 'MIT');
      assert.equal(express.externalRefs![0]!.referenceLocator, 'pkg:npm/express@4.19.2');
      const scoped = pkgs.get('@types/node')!;
      assert.deepEqual(scoped.checksums, [{ algorithm: 'SHA1', checksumValue: SCOPED.hex }]);
      assert.equal(scoped.externalRefs![0]!.referenceLocator, 'pkg:npm/%40types/node@20.1.0');
      const debug = pkgs.get('debug')!;
      assert.equal(debug.downloadLocation, 'NOASSERTION');
      assert.equal(debug.licenseDeclared, 'BSD-3-Clause', 'the old { type } license form');
      assert.equal(debug.checksums, undefined);
      const root = pkgs.get('demo-app')!;
      assert.equal(root.licenseDeclared, 'ISC');
      const rels = doc.relationships as { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
      assert.deepEqual(rels.filter((r) => r.relationshipType === 'DESCRIBES'), [{ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: root.SPDXID }]);
      assert.deepEqual(rels.filter((r) => r.relationshipType === 'DEPENDS_ON').map((r) => r.relatedSpdxElement).sort(), [express.SPDXID, scoped.SPDXID, debug.SPDXID].sort());
      assert.ok(rels.every((r) => r.relationshipType === 'DESCRIBES' || r.spdxElementId === root.SPDXID));
    });
  }

  it('deterministic: 1970 without SOURCE_DATE_EPOCH, the epoch when set, the namespace a hash of the content', async () => {
    const dir = project(3);
    const saved = process.env.SOURCE_DATE_EPOCH;
    try {
      delete process.env.SOURCE_DATE_EPOCH;
      const a = await generateSbom(dir);
      const b = await generateSbom(dir);
      assert.ok(a.bytes.equals(b.bytes));
      assert.equal((a.document.creationInfo as { created: string }).created, '1970-01-01T00:00:00Z');
      process.env.SOURCE_DATE_EPOCH = '1700000000';
      const c = await generateSbom(dir);
      assert.equal((c.document.creationInfo as { created: string }).created, '2023-11-14T22:13:20Z');
      assert.notEqual(c.document.documentNamespace, a.document.documentNamespace);
      assert.match(a.document.documentNamespace as string, /^https:\/\/spdx\.org\/spdxdocs\/fastlayer\/demo-app-[0-9a-f]{64}$/);
      const d = await generateSbom(dir, { created: '2024-01-02T03:04:05.678Z' });
      assert.equal((d.document.creationInfo as { created: string }).created, '2024-01-02T03:04:05Z');
      const e = await generateSbom(dir, { created: '2024-01-02T04:04:05+01:00' });
      assert.equal((e.document.creationInfo as { created: string }).created, '2024-01-02T03:04:05Z');
      // hazard: new Date() read a time without a zone in host local time: another SBOM per TZ.
      await assert.rejects(generateSbom(dir, { created: '2024-01-02T03:04:05' }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
      // Packages sorted whatever order the lockfile lists them in.
      const names = (a.document.packages as Pkg[]).slice(1).map((p) => p.SPDXID);
      assert.deepEqual(names, [...names].sort());
    } finally {
      if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
      else process.env.SOURCE_DATE_EPOCH = saved;
    }
  });

  it('a dev package npm did not install is left out; once installed it is listed with its license', async () => {
    const dir = project(3, { 'node_modules/mocha': { version: '10.0.0', dev: true } });
    assert.equal(byName((await generateSbom(dir)).document).has('mocha'), false);
    mkdirSync(join(dir, 'node_modules/mocha'));
    writeFileSync(join(dir, 'node_modules/mocha/package.json'), '{"license":"MIT"}');
    assert.equal(byName((await generateSbom(dir)).document).get('mocha')?.licenseDeclared, 'MIT');
  });

  it('hazard: a package.json linked out of the project is not read (NOASSERTION), nor a huge one', async () => {
    const outside = tempDir();
    dirs.push(outside);
    writeFileSync(join(outside.path, 'package.json'), '{"license":"SECRET-1.0"}');
    const dir = project(3, { 'node_modules/evil': { version: '1.0.0' }, 'node_modules/big': { version: '1.0.0' } });
    mkdirSync(join(dir, 'node_modules/evil'));
    symlinkSync(join(outside.path, 'package.json'), join(dir, 'node_modules/evil/package.json'));
    mkdirSync(join(dir, 'node_modules/big'));
    writeFileSync(join(dir, 'node_modules/big/package.json'), `{"license":"MIT","x":"${'x'.repeat(2 * 1024 * 1024)}"}`);
    const pkgs = byName((await generateSbom(dir)).document);
    assert.equal(pkgs.get('evil')!.licenseDeclared, 'NOASSERTION');
    assert.equal(pkgs.get('big')!.licenseDeclared, 'NOASSERTION');
  });

  it('hazard: no lockfile, lockfile v1, a malformed integrity, a symlinked lockfile: ErrSbomLockfile naming why', async () => {
    const empty = tempDir();
    dirs.push(empty);
    await assert.rejects(generateSbom(empty.path), (e: unknown) => e instanceof ErrSbomLockfile && e.code === 'ERR_SBOM_LOCKFILE' && e.reason === 'missing');
    const v1 = tempDir();
    dirs.push(v1);
    writeFileSync(join(v1.path, 'package-lock.json'), JSON.stringify({ name: 'x', lockfileVersion: 1, dependencies: {} }));
    await assert.rejects(generateSbom(v1.path), (e: unknown) => e instanceof ErrSbomLockfile && e.reason === 'version' && /lockfileVersion 1/.test(e.message));
    const bad = project(3, { 'node_modules/bad': { version: '1.0.0', integrity: 'sha512-AAAA' } });
    await assert.rejects(generateSbom(bad), (e: unknown) => e instanceof ErrSbomLockfile && e.reason === 'invalid' && /node_modules\/bad/.test(e.message));
    const linked = tempDir();
    dirs.push(linked);
    symlinkSync(join(bad, 'package-lock.json'), join(linked.path, 'package-lock.json'));
    await assert.rejects(generateSbom(linked.path), (e: unknown) => e instanceof ErrSbomLockfile && e.reason === 'symlink');
  });

  it('hazard: credentials in a resolved URL (user-info, a token parameter) stay out of the document, which is pushed to a registry', async () => {
    const SECRETS = ['glpat-SECRETTOKEN', 'ghp_SECRET', 'hunter2', 'AKIASECRET', 'SIGSECRET', `npm_${'a'.repeat(36)}`];
    const dir = project(3, {
      'node_modules/a': { version: '1.0.0', resolved: 'https://ci-bot:glpat-SECRETTOKEN@npm.corp.example/a/-/a-1.0.0.tgz' },
      'node_modules/b': { version: '1.0.0', resolved: 'git+https://ghp_SECRET@github.com/org/b.git#0123456789abcdef0123456789abcdef01234567' },
      'node_modules/c': { version: '1.0.0', resolved: 'git+ssh://deploy:hunter2@git.corp.example/org/c.git#v1' },
      'node_modules/d': { version: '1.0.0', resolved: 'https://bucket.s3.example/d-1.0.0.tgz?X-Amz-Credential=AKIASECRET&X-Amz-Signature=SIGSECRET&part=1' },
      'node_modules/e': { version: '1.0.0', resolved: `https://npm.corp.example/e.tgz?t=npm_${'a'.repeat(36)}` },
      'node_modules/f': { version: '1.0.0', resolved: 'https://user:pw@exa mple/f.tgz' },
      'node_modules/g': { version: 'git+https://hunter2@github.com/org/g.git#abc', resolved: 'git+ssh://git@github.com/org/g.git#abc' },
      'node_modules/h': { version: '1.0.0', resolved: 'https://npm.corp.example/h.tgz?_authToken=hunter2&a=2#f' },
      'node_modules/i': { version: '1.0.0', resolved: 'file:../local/i' },
    });
    const { document: doc, bytes } = await generateSbom(dir);
    assert.deepEqual(validateSchema(SCHEMA, doc), []);
    for (const s of SECRETS) assert.ok(!bytes.includes(s), `${s} is not in the SBOM`);
    const pkgs = byName(doc);
    assert.equal(pkgs.get('a')!.downloadLocation, 'https://npm.corp.example/a/-/a-1.0.0.tgz');
    assert.equal(pkgs.get('b')!.downloadLocation, 'git+https://github.com/org/b.git#0123456789abcdef0123456789abcdef01234567');
    assert.equal(pkgs.get('c')!.downloadLocation, 'git+ssh://git.corp.example/org/c.git#v1');
    assert.equal(pkgs.get('d')!.downloadLocation, 'https://bucket.s3.example/d-1.0.0.tgz?part=1');
    assert.equal(pkgs.get('e')!.downloadLocation, 'https://npm.corp.example/e.tgz');
    assert.equal(pkgs.get('f')!.downloadLocation, 'NOASSERTION', 'a URL that does not parse');
    assert.equal(pkgs.get('g')!.downloadLocation, 'git+ssh://github.com/org/g.git#abc');
    assert.equal(pkgs.get('g')!.versionInfo, 'git+https://github.com/org/g.git#abc', 'a version written as a URL is cleaned the same way');
    assert.equal(pkgs.get('g')!.externalRefs![0]!.referenceLocator, `pkg:npm/g@${encodeURIComponent('git+https://github.com/org/g.git#abc')}`);
    assert.equal(pkgs.get('h')!.downloadLocation, 'https://npm.corp.example/h.tgz?a=2#f', 'other parameters and the fragment kept');
    // Unchanged: a registry URL; what is no URL stays NOASSERTION.
    assert.equal(pkgs.get('express')!.downloadLocation, 'https://registry.npmjs.org/express/-/express-4.19.2.tgz');
    assert.equal(pkgs.get('i')!.downloadLocation, 'NOASSERTION');
  });

  it('the helpers: names from keys, purls, SRI strings with several hashes', () => {
    assert.equal(packageNameOf('node_modules/@s/a/node_modules/b'), 'b');
    assert.equal(packageNameOf('node_modules/@s/a'), '@s/a');
    assert.equal(packageNameOf('packages/ws'), undefined);
    assert.equal(npmPurl('@s/a', '1.0.0-rc+1'), 'pkg:npm/%40s/a@1.0.0-rc%2B1');
    const s256 = sri('sha256', 'x');
    assert.deepEqual(integrityChecksums(`${EXPRESS.sri} ${s256.sri} md5-abc`, 'x').map((c) => c.algorithm), ['SHA512', 'SHA256']);
  });

  it('the schema validator itself catches a missing required field and a wrong enum', () => {
    assert.notDeepEqual(validateSchema(SCHEMA, { spdxVersion: 'SPDX-2.3', SPDXID: 'x', name: 'x', dataLicense: 'CC0-1.0' }), []);
    const doc = { spdxVersion: 'SPDX-2.3', SPDXID: 'x', name: 'x', dataLicense: 'CC0-1.0', creationInfo: { created: 'x', creators: ['Tool: t'] }, packages: [{ SPDXID: 'a', name: 'a', downloadLocation: 'NONE', checksums: [{ algorithm: 'SHA999', checksumValue: '00' }] }] };
    assert.match(validateSchema(SCHEMA, doc).join('\n'), /SHA999/);
  });
});
