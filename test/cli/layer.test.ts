// `fastlayer layer`: the built bin, run as a child process, makes layers whose bytes and descriptor
// agree (gzip -t, sha256 of the output and of the input).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { tarDirectory } from '../../src/tar/directory.js';
import { defaultMtime } from '../../src/build/dir-layer.js';
import { collect, engines, sha256 } from '../helpers/layer.js';
import { manyFiles, tempDir } from '../helpers/tree.js';
import { binMissing, hasTool, oneErrorLine, runCli } from '../helpers/cli.js';
import { listLayer } from '../helpers/image.js';

const DOCKER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

describe('fastlayer layer', { skip: binMissing() }, () => {
  const tmp = tempDir();
  const dir = join(tmp.path, 'tree');
  const file = join(tmp.path, 'data.bin');
  const data = Buffer.from('not a tar at all\n'.repeat(5000));
  let tar: Buffer;
  before(async () => {
    mkdirSync(dir);
    manyFiles(dir, 120);
    writeFileSync(file, data);
    // The command's default entry times: SOURCE_DATE_EPOCH's clamp when set, else 0 (reproducible).
    tar = await collect(tarDirectory(dir, { mtime: defaultMtime() }));
  });
  after(() => tmp.remove());

  for (const engine of engines) {
    it(`writes a directory layer to -o FILE that gzip -t and sha256 agree with [${engine.name}]`, (t) => {
      const output = join(tmp.path, `layer-${engine.name}.tar.gz`);
      const r = runCli(['layer', dir, '-o', output, '--engine', engine.name, '--level', '6']);
      assert.equal(r.status, 0, r.stderr);
      const d = JSON.parse(r.stdout.toString());
      const gz = readFileSync(output);
      assert.equal(d.mediaType, DOCKER_GZIP);
      assert.equal(d.digest, `sha256:${sha256(gz)}`);
      assert.equal(d.size, gz.length);
      assert.ok(gunzipSync(gz).equals(tar));
      assert.equal(d.diffID, `sha256:${sha256(tar)}`);
      assert.equal(d.engine.name, engine.name);
      assert.match(r.stderr, /MB\/s/);
      if (!hasTool('gzip')) return t.skip('gzip -t not run: gzip is not installed');
      assert.equal(spawnSync('gzip', ['-t', output]).status, 0, 'gzip -t accepts the output');
    });
  }

  it('writes the layer to standard output with -o -, the descriptor then on stderr', (t) => {
    const r = runCli(['layer', file, '-o', '-', '--level', '1']);
    assert.equal(r.status, 0, r.stderr);
    const descriptor = JSON.parse(r.stderr.slice(0, r.stderr.lastIndexOf('}') + 1));
    assert.equal(descriptor.digest, `sha256:${sha256(r.stdout)}`);
    assert.equal(descriptor.size, r.stdout.length);
    assert.equal(descriptor.diffID, `sha256:${sha256(data)}`);
    assert.ok(gunzipSync(r.stdout).equals(data));
    if (!hasTool('gzip')) return t.skip('gzip -t not run: gzip is not installed');
    assert.equal(spawnSync('gzip', ['-t'], { input: r.stdout }).status, 0);
  });

  it('--json prints exactly one JSON document on stdout, and nothing else there', () => {
    const output = join(tmp.path, 'json.tar.gz');
    const r = runCli(['layer', dir, '-o', output, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const text = r.stdout.toString();
    assert.equal(text.trimEnd().split('\n').length, 1, 'one line');
    const d = JSON.parse(text);
    const gz = readFileSync(output);
    assert.equal(d.digest, `sha256:${sha256(gz)}`);
    assert.equal(d.size, gz.length);
    assert.equal(d.diffID, `sha256:${sha256(tar)}`);
    assert.equal(d.input.bytes, tar.length);
    assert.equal(d.input.kind, 'directory');
    assert.equal(d.output, output);
    assert.equal(r.stderr, '', 'no summary line with --json');
  });

  it('reads a file as is, and stdin with -; --compression none and --media-type', () => {
    const a = JSON.parse(runCli(['layer', file, '--compression', 'none', '--media-type', 'application/x-test']).stdout.toString());
    assert.deepEqual([a.mediaType, a.digest, a.diffID, a.size], ['application/x-test', `sha256:${sha256(data)}`, `sha256:${sha256(data)}`, data.length]);
    const b = runCli(['-', '--level', '0'], { input: data });
    assert.equal(b.status, 0, b.stderr);
    assert.equal(JSON.parse(b.stdout.toString()).diffID, `sha256:${sha256(data)}`);
    // The old spelling keeps working.
    const c = JSON.parse(runCli([file, '--none']).stdout.toString());
    assert.equal(c.digest, `sha256:${sha256(data)}`);
  });

  it('--compression zstd: the file is the digest, zstd -dc of it the diffID, OCI zstd media type by default', (t) => {
    const output = join(tmp.path, 'x.tar.zst');
    const r = runCli(['layer', dir, '-o', output, '--compression', 'zstd', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const d = JSON.parse(r.stdout.toString());
    const zst = readFileSync(output);
    assert.equal(d.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    assert.equal(d.compression, 'zstd');
    assert.equal(d.level, 3);
    assert.equal(d.digest, `sha256:${sha256(zst)}`);
    assert.equal(d.size, zst.length);
    assert.equal(d.diffID, `sha256:${sha256(tar)}`);
    // The level changes the bytes, not the content.
    const r19 = runCli(['layer', dir, '--compression', 'zstd', '--level', '19', '--json']);
    assert.equal(r19.status, 0, r19.stderr);
    const d19 = JSON.parse(r19.stdout.toString());
    assert.equal(d19.level, 19);
    assert.equal(d19.diffID, d.diffID);
    if (!hasTool('zstd')) return t.skip('zstd -dc not run: zstd is not installed');
    const plain = spawnSync('zstd', ['-dc', output], { maxBuffer: 1 << 30 });
    assert.equal(plain.status, 0, plain.stderr.toString());
    assert.equal(`sha256:${sha256(plain.stdout)}`, d.diffID, 'zstd -dc | sha256sum is the diffID');
  });

  it('--keep-whiteout-files writes .wh.* entries and a .wh.* --prefix as they are; without it they are refused, nothing written', async () => {
    const wh = join(tmp.path, 'wh-tree');
    mkdirSync(wh);
    writeFileSync(join(wh, '.wh.gone'), '');
    const refused = join(tmp.path, 'wh-refused.tar.gz');
    for (const args of [[wh], [dir, '--prefix', '/.wh.etc']]) {
      const r = runCli(['layer', ...args, '-o', refused]);
      assert.notEqual(r.status, 0, `${args.join(' ')}: refused`);
      assert.match(oneErrorLine(r.stderr) ?? '', /--keep-whiteout-files/);
      assert.equal(existsSync(refused), false);
    }
    const output = join(tmp.path, 'wh.tar.gz');
    const r = runCli(['layer', wh, '--keep-whiteout-files', '--prefix', '/.wh.opt', '-o', output]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((await listLayer(output)).map((e) => e.name), ['.wh.opt', '.wh.opt/.wh.gone']);
  });

  it('keeps the bare form: fastlayer DIR is fastlayer layer DIR', () => {
    const bare = runCli([dir, '--json']);
    const sub = runCli(['layer', dir, '--json']);
    assert.equal(bare.status, 0, bare.stderr);
    assert.equal(JSON.parse(bare.stdout.toString()).digest, JSON.parse(sub.stdout.toString()).digest);
  });

  it('replaces an existing output file only with the complete layer, keeping its permissions', () => {
    const output = join(tmp.path, 'existing.gz');
    writeFileSync(output, 'old content', { mode: 0o600 });
    const r = runCli(['layer', file, '-o', output, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const gz = readFileSync(output);
    assert.equal(JSON.parse(r.stdout.toString()).digest, `sha256:${sha256(gz)}`);
    assert.equal(statSync(output).mode & 0o777, 0o600);
  });

  it('npm start: no input runs layer on a default system directory, printing descriptor and throughput', (t) => {
    const r0 = runCli(['help', 'layer']);
    const defaults = /first existing of\s+([^\n]+)\./.exec(r0.stdout.toString())?.[1]?.split(', ') ?? [];
    if (!defaults.some((d) => existsSync(d))) return t.skip(`none of the default directories exists here: ${defaults.join(', ')}`);
    const r = runCli(['--level', '0', '--threads', '1']);
    assert.equal(r.status, 0, r.stderr);
    const d = JSON.parse(r.stdout.toString());
    assert.match(d.digest, /^sha256:[0-9a-f]{64}$/);
    assert.match(d.diffID, /^sha256:[0-9a-f]{64}$/);
    assert.match(r.stderr, /^fastlayer: \/\S+: [0-9.]+ MB in [0-9.]+ s = [0-9.]+ MB\/s/m);
  });
});
