// Images built by `fastlayer image` and `fastlayer node` with --compression estargz, each layer blob
// checked by stargz-snapshotter's own estargz reader (test/helpers/estargz-verifier.ts: Open,
// VerifyTOC against the manifest's toc.digest annotation, every chunk against its chunkDigest), and
// the same bytes on 1 and 8 threads. Slow tier: the verifier is built from Debian's Go sources on
// first run. Skipped, with the reason, where the verifier or the CLI cannot be had.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binMissing, runCli } from '../helpers/cli.js';
import { semiCompressible } from '../helpers/data.js';
import { verifier } from '../helpers/estargz-verifier.js';
import { tempDir } from '../helpers/tree.js';

const TOC = 'containerd.io/snapshot/stargz/toc.digest';
const tmp = tempDir('fastlayer-estargz-image-verify-');
after(() => tmp.remove());
let tool: { bin?: string; skip?: string } = {};

interface Layer { digest: string; size: number; annotations?: Record<string, string> }

function layersOf(layout: string): { digest: string; layers: Layer[] } {
  const blob = (d: string): Buffer => readFileSync(join(layout, 'blobs/sha256', d.slice(7)));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(blob(index.manifests[0]!.digest).toString()) as { layers: Layer[] };
  return { digest: index.manifests[0]!.digest, layers: manifest.layers };
}

/** The verifier's verdict on every layer of the layout: `ok files=N chunks=M` each. */
function verifyAll(layout: string): string[] {
  return layersOf(layout).layers.map((l) => {
    assert.match(l.annotations?.[TOC] ?? '', /^sha256:[0-9a-f]{64}$/, `layer ${l.digest} has the TOC digest annotation`);
    const r = spawnSync(tool.bin!, [join(layout, 'blobs/sha256', l.digest.slice(7)), l.annotations![TOC]!], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  });
}

let app: string;
let project: string;
before(() => {
  tool = verifier();
  app = join(tmp.path, 'app');
  mkdirSync(join(app, 'lib'), { recursive: true });
  writeFileSync(join(app, 'lib/big.so'), semiCompressible(900_000, 31));
  writeFileSync(join(app, 'server.js'), 'console.log(1)\n');
  writeFileSync(join(app, 'empty'), '');
  project = join(tmp.path, 'project');
  mkdirSync(join(project, 'node_modules/dep'), { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0', scripts: { start: 'node server.js' } }));
  writeFileSync(join(project, 'package-lock.json'), JSON.stringify({ name: 'p', lockfileVersion: 3, packages: {} }));
  writeFileSync(join(project, 'node_modules/dep/index.js'), semiCompressible(200_000, 32));
  writeFileSync(join(project, 'server.js'), 'require("dep")\n');
});

describe('fastlayer image and node with --compression estargz pass the upstream verifier', { skip: binMissing() }, () => {
  it('image: every layer verifies; threads 1 and 8 give the same image', (t) => {
    if (tool.skip !== undefined) return t.skip(tool.skip);
    const digests = [1, 8].map((threads) => {
      const out = join(tmp.path, `image-t${threads}`);
      const r = runCli(['image', '--layer', `${app}:/app`, '--compression', 'estargz', '--estargz-chunk-size', '65536', '--estargz-prioritize', '/app/server.js',
        '--threads', String(threads), '--no-layer-cache', '--tag', 'v:1', '--oci-dir', out, '--quiet']);
      assert.equal(r.status, 0, r.stderr.toString());
      // big.so: 900000 bytes in 65536-byte chunks is 14; server.js, the landmark: one each.
      assert.deepEqual(verifyAll(out), ['ok files=4 chunks=16']);
      return layersOf(out).digest;
    });
    assert.equal(digests[0], digests[1]);
  });

  it('node: both layers verify; two builds give the same image', (t) => {
    if (tool.skip !== undefined) return t.skip(tool.skip);
    const digests = [1, 2].map((i) => {
      const out = join(tmp.path, `node-${i}`);
      const r = runCli(['node', project, '--compression', 'estargz', '--no-layer-cache', '--no-sbom', '--tag', 'n:1', '--oci-dir', out, '--quiet']);
      assert.equal(r.status, 0, r.stderr.toString());
      const verdicts = verifyAll(out);
      assert.equal(verdicts.length, 2);
      for (const v of verdicts) assert.match(v, /^ok files=\d+ chunks=\d+$/);
      return layersOf(out).digest;
    });
    assert.equal(digests[0], digests[1]);
  });
});
