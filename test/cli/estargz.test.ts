// `fastlayer layer --compression estargz`: the flags, the descriptor's annotations, the blob (its
// TOC read back, its gunzipped tar the directory's), and the usage errors of the eStargz flags.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readToc } from '../../src/estargz/reader.js';
import { entryHeader, padding } from '../../src/tar/header.js';
import { binMissing, runCli } from '../helpers/cli.js';
import { semiCompressible } from '../helpers/data.js';

const sha = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'fastlayer-cli-estargz-'));
  mkdirSync(join(dir, 'tree/bin'), { recursive: true });
  writeFileSync(join(dir, 'tree/bin/tool'), semiCompressible(20_000, 9));
  writeFileSync(join(dir, 'tree/readme'), 'read me\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('fastlayer layer --compression estargz', { skip: binMissing() }, () => {
  it('writes a blob whose descriptor carries the TOC digest and uncompressed size; same bytes on 1 and 16 threads', () => {
    const out = join(dir, 'layer.gz');
    const r = runCli(['layer', join(dir, 'tree'), '--compression', 'estargz', '--estargz-chunk-size', '4096', '--estargz-prioritize', '/readme', '-t', '1', '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    const d = JSON.parse(r.stdout.toString()) as { mediaType: string; digest: string; size: number; diffID: string; annotations: Record<string, string> };
    const blob = readFileSync(out);
    assert.equal(d.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    assert.equal(d.digest, sha(blob));
    assert.equal(d.size, blob.length);
    const tar = gunzipSync(blob);
    assert.equal(d.diffID, sha(tar));
    assert.equal(d.annotations['io.containers.estargz.uncompressed-size'], String(tar.length));
    assert.match(d.annotations['containerd.io/snapshot/stargz/toc.digest']!, /^sha256:[0-9a-f]{64}$/);
    return readToc(async (o, n) => blob.subarray(o, o + n), blob.length).then((s) => {
      assert.equal(s.landmark, 'prefetch');
      assert.deepEqual(s.toc.entries.slice(0, 2).map((e) => e.name), ['readme', '.prefetch.landmark']);
      assert.equal(s.toc.entries.filter((e) => e.name === 'bin/tool').length, 5);
      const again = runCli(['layer', join(dir, 'tree'), '--compression', 'estargz', '--estargz-chunk-size', '4096', '--estargz-prioritize', '/readme', '-t', '16', '--json']);
      assert.equal(again.status, 0, again.stderr);
      assert.equal(JSON.parse(again.stdout.toString()).digest, d.digest);
    });
  });

  for (const [what, args] of [
    ['--estargz-chunk-size without --compression estargz', ['--estargz-chunk-size', '4096']],
    ['--estargz-prioritize without --compression estargz', ['--compression', 'gzip', '--estargz-prioritize', 'readme']],
    ['a chunk size below 512', ['--compression', 'estargz', '--estargz-chunk-size', '100']],
    ['a prioritised path with ..', ['--compression', 'estargz', '--estargz-prioritize', '../x']],
  ] as const) {
    it(`${what}: usage error (exit 2)`, () => {
      const r = runCli(['layer', join(dir, 'tree'), ...args]);
      assert.equal(r.status, 2, r.stderr);
    });
  }

  it('a FILE input that is not a tar fails with exit 1 and no output file', () => {
    const bad = join(dir, 'not.tar');
    writeFileSync(bad, 'not a tar at all\n'.repeat(100));
    const out = join(dir, 'bad.gz');
    const r = runCli(['layer', bad, '--compression', 'estargz', '-o', out]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /tar/);
    assert.throws(() => readFileSync(out), { code: 'ENOENT' });
  });

  it('hazard: a FILE tar cut at an entry boundary (or empty) fails with exit 1 and no output file, not a layer lacking the rest', () => {
    const data = semiCompressible(3000, 4);
    const cut = join(dir, 'cut.tar');
    writeFileSync(cut, Buffer.concat([
      entryHeader({ name: Buffer.from('a.bin'), type: '0', mode: 0o644, size: data.length, mtime: 0, uid: 0, gid: 0, uname: '', gname: '' }),
      data, padding(data.length),
    ]));
    const empty = join(dir, 'empty.tar');
    writeFileSync(empty, '');
    for (const [input, why] of [[cut, /end-of-archive block/], [empty, /empty/]] as const) {
      const out = join(dir, 'cut.gz');
      const r = runCli(['layer', input, '--compression', 'estargz', '-o', out]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, why);
      assert.throws(() => readFileSync(out), { code: 'ENOENT' });
    }
  });
});
