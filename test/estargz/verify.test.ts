// eStargz blobs checked by stargz-snapshotter's own reader (test/helpers/estargz-verifier.ts: the
// upstream estargz library, built once from Debian's packaged Go sources). It opens the blob,
// verifies the TOC against the descriptor's digest, and reads every file back chunk by chunk
// against its chunkDigest. Skipped, with the reason, where the verifier cannot be built.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifier } from '../helpers/estargz-verifier.js';
import { estargzLayer, type EstargzOptions } from '../../src/estargz/index.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { semiCompressible } from '../helpers/data.js';

let dir: string;
let tool: { bin?: string; skip?: string } = {};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'fastlayer-estargz-verify-'));
  mkdirSync(join(dir, 'tree/usr/lib'), { recursive: true });
  mkdirSync(join(dir, 'tree/etc'), { recursive: true });
  writeFileSync(join(dir, 'tree/usr/lib/big.so'), semiCompressible(700_000, 21));
  writeFileSync(join(dir, 'tree/usr/lib/exact'), semiCompressible(65536, 22));
  writeFileSync(join(dir, 'tree/etc/hosts'), '127.0.0.1 localhost\n');
  writeFileSync(join(dir, 'tree/etc/empty'), '');
  symlinkSync('../../etc/hosts', join(dir, 'tree/usr/lib/hosts'));
  tool = verifier();
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function verify(options: EstargzOptions): Promise<string> {
  const l = estargzLayer(tarDirectory(join(dir, 'tree')), options);
  const parts: Buffer[] = [];
  for await (const c of l.stream) parts.push(c as Buffer);
  const r = await l.done;
  const blob = join(dir, 'blob.gz');
  writeFileSync(blob, Buffer.concat(parts));
  const run = spawnSync(tool.bin!, [blob, r.tocDigest], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.trim();
}

describe("eStargz blobs pass stargz-snapshotter's estargz reader (Open, VerifyTOC, every chunk)", () => {
  // Chunks: the landmark, hosts and exact are one each, big.so 700000 bytes cut by the chunk size; empty has none.
  for (const [what, options, expected] of [
    ['default chunk size, level 1', {}, 'ok files=5 chunks=4'],
    ['64 KiB chunks, level 9, prioritised files', { chunkSize: 65536, compressionLevel: 9, prioritize: ['etc/hosts'] }, 'ok files=5 chunks=14'],
    ['odd 1000-byte chunks, level 0', { chunkSize: 1000, compressionLevel: 0 }, 'ok files=5 chunks=768'],
  ] as const) {
    it(what, async (t) => {
      if (tool.skip !== undefined) return t.skip(tool.skip);
      assert.equal(await verify(options), expected);
    });
  }

  it('a blob with one byte of a chunk changed fails the verifier', async (t) => {
    if (tool.skip !== undefined) return t.skip(tool.skip);
    const l = estargzLayer(tarDirectory(join(dir, 'tree')), { compressionLevel: 0 });
    const parts: Buffer[] = [];
    for await (const c of l.stream) parts.push(c as Buffer);
    const r = await l.done;
    const blob = Buffer.concat(parts);
    // Level 0 stores the bytes as they are: flip one inside big.so's stored data.
    const at = blob.indexOf(semiCompressible(700_000, 21).subarray(1000, 1032));
    assert.ok(at > 0);
    blob[at] ^= 0xff;
    const path = join(dir, 'bad.gz');
    writeFileSync(path, blob);
    const run = spawnSync(tool.bin!, [path, r.tocDigest], { encoding: 'utf8' });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /big\.so/);
  });
});
