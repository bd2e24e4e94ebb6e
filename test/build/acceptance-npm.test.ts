// Issue 22's acceptance with a real project: express from the npm registry, installed by `npm ci` into
// two checkouts (npm writes every file anew, with its own times), built by `fastlayer node` into OCI
// layouts: one image digest, and an SBOM that lists every package of the lockfile. Skipped where the
// npm registry cannot be reached (a machine without network); test/build/acceptance-node-ci.test.ts
// covers the rest with a synthetic project there. In the slow tier: it downloads from the network.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binMissing, runCliAsync } from '../helpers/cli.js';
import { tempDir } from '../helpers/tree.js';
import { validateSchema } from '../helpers/json-schema.js';

const SCHEMA = JSON.parse(readFileSync(new URL('../../../test/fixtures/spdx-2.3-schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;

function packageName(path: string): string {
  return path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
}

describe('acceptance (issue 22): express from npm, `npm ci` in two checkouts', { skip: binMissing() }, () => {
  const tmp = tempDir('fastlayer-accept-npm-');
  after(() => tmp.remove());

  const npm = (args: string[], cwd: string) =>
    spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', [...args, '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd, encoding: 'utf8', timeout: 240_000, env: { ...process.env, npm_config_cache: join(tmp.path, 'npm-cache') } });

  it('one image digest from both checkouts; the SBOM lists every package of the lockfile', async (t) => {
    const stage = join(tmp.path, 'stage');
    mkdirSync(stage, { recursive: true });
    writeFileSync(join(stage, 'package.json'), JSON.stringify({ name: 'hello', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }, null, 2));
    const locked = npm(['install', '--package-lock-only', '--save-exact', 'express@4.21.2'], stage);
    if (locked.status !== 0) {
      t.skip(`the npm registry cannot be reached here: ${(locked.stderr || String(locked.error)).trim().split('\n')[0]}`);
      return;
    }
    const lock = JSON.parse(readFileSync(join(stage, 'package-lock.json'), 'utf8')) as { lockfileVersion: number; packages: Record<string, { version?: string }> };
    assert.ok(lock.lockfileVersion >= 2);
    const digests: string[] = [];
    for (const [i, stamp] of [[0, 1_700_000_000], [1, 1_750_000_000]] as const) {
      const dir = join(tmp.path, `checkout-${i}`, i ? 'deep/hello' : 'hello');
      mkdirSync(dir, { recursive: true });
      for (const f of ['package.json', 'package-lock.json']) writeFileSync(join(dir, f), readFileSync(join(stage, f)));
      writeFileSync(join(dir, 'server.js'), "require('express')().get('/', (q, r) => r.send('hi')).listen(8080);\n");
      utimesSync(join(dir, 'server.js'), stamp, stamp);
      const ci = npm(['ci'], dir);
      assert.equal(ci.status, 0, ci.stderr);
      const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: join(tmp.path, `cache-${i}`) };
      delete env['SOURCE_DATE_EPOCH'];
      const out = join(tmp.path, `image-${i}`);
      const digestFile = join(tmp.path, `digest-${i}`);
      const r = await runCliAsync(['node', dir, '--oci-dir', out, '--tag', 'hello:1', '--digest-file', digestFile], env);
      assert.equal(r.status, 0, r.stderr);
      digests.push(readFileSync(digestFile, 'utf8').trim());
      if (i === 1) {
        const listed = await runCliAsync(['inspect', out, '--referrers', '--json']);
        assert.equal(listed.status, 0, listed.stderr);
        const referrers = (JSON.parse(listed.stdout) as { referrers: { digest: string }[] }).referrers;
        assert.equal(referrers.length, 1);
        const blob = (d: string) => readFileSync(join(out, 'blobs', 'sha256', d.slice(7)), 'utf8');
        const artifact = JSON.parse(blob(referrers[0]!.digest)) as { subject: { digest: string }; layers: { digest: string }[] };
        assert.equal(artifact.subject.digest, digests[1]);
        const doc = JSON.parse(blob(artifact.layers[0]!.digest)) as { packages: { name: string; versionInfo?: string }[] };
        assert.deepEqual(validateSchema(SCHEMA, doc), []);
        const installed = Object.entries(lock.packages).filter(([p]) => p !== '');
        assert.ok(installed.length > 30, `express has its dependencies: ${installed.length}`);
        for (const [p, v] of installed) {
          assert.ok(doc.packages.some((q) => q.name === packageName(p) && q.versionInfo === v.version), `${packageName(p)}@${v.version} in the SBOM`);
        }
      }
    }
    assert.match(digests[0]!, /^sha256:[0-9a-f]{64}$/);
    assert.equal(digests[1], digests[0], 'the same image from two `npm ci` checkouts');
  });
});
