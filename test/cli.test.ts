// The fastlayer CLI, run as a child process.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { tarDirectory } from '../src/tar/directory.js';
import { collect, engines, sha256 } from './helpers/layer.js';
import { manyFiles, tempDir } from './helpers/tree.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function run(args: string[], input?: Buffer) {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'buffer', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe('fastlayer CLI', () => {
  const tmp = tempDir();
  const dir = join(tmp.path, 'tree');
  before(() => {
    mkdirSync(dir);
    manyFiles(dir, 120);
  });
  after(() => tmp.remove());

  for (const engine of engines) {
    it(`archives a directory and prints its descriptor [${engine.name}]`, async () => {
      const output = join(tmp.path, `layer-${engine.name}.tar.gz`);
      const r = run([dir, '--output', output, '--engine', engine.name, '--level', '6']);
      assert.equal(r.status, 0, r.stderr);
      const d = JSON.parse(r.stdout);
      const gz = readFileSync(output);
      assert.equal(d.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
      assert.equal(d.digest, `sha256:${sha256(gz)}`);
      assert.equal(d.size, gz.length);
      const tar = await collect(tarDirectory(dir));
      assert.ok(gunzipSync(gz).equals(tar));
      assert.equal(d.diffID, `sha256:${sha256(tar)}`);
      assert.equal(d.engine.name, engine.name);
      assert.match(r.stderr, /MB\/s/);
      assert.equal(spawnSync('gzip', ['-t', output]).status, 0, 'gzip -t accepts the output');
    });
  }

  it('reads a file as is, and stdin with -; --none and --media-type', () => {
    const file = join(tmp.path, 'data.bin');
    const data = Buffer.from('not a tar at all\n'.repeat(1000));
    writeFileSync(file, data);
    const a = JSON.parse(run([file, '--none', '--media-type', 'application/x-test']).stdout);
    assert.deepEqual([a.mediaType, a.digest, a.diffID, a.size], ['application/x-test', `sha256:${sha256(data)}`, `sha256:${sha256(data)}`, data.length]);
    const b = run(['-', '--level', '0'], data);
    assert.equal(b.status, 0, b.stderr);
    assert.equal(JSON.parse(b.stdout).diffID, `sha256:${sha256(data)}`);
  });

  for (const [label, args, message] of [
    ['an out-of-range level', ['--level', '11'], /--level must be an integer from 0 to 9/],
    ['an unknown flag', ['--fast'], /Unknown option '--fast'/],
    ['two inputs', ['a', 'b'], /at most one input/],
    ['an unknown engine', ['--engine', 'gpu'], /--engine must be js or native/],
    ['a missing input', ['/nonexistent/fastlayer'], /cannot read \/nonexistent\/fastlayer/],
    ['a missing option value', ['--output'], /argument missing|requires/i],
  ] as const) {
    it(`exits 1 with a clear message for ${label}`, () => {
      const r = run([...args]);
      assert.equal(r.status, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, message);
      assert.match(r.stderr, /usage: fastlayer/);
    });
  }

  it('exits 1 and removes the partial output when reading the input fails', (t) => {
    // Linux's /proc/self/mem stats as a regular file but fails on read (EIO): a read error after
    // the output file was created.
    if (!existsSync('/proc/self/mem')) return t.skip('needs /proc/self/mem');
    const output = join(tmp.path, 'partial.gz');
    const r = run(['/proc/self/mem', '--output', output]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^fastlayer: .*(EIO|input\/output error)/im);
    assert.ok(!existsSync(output));
  });

  it('prints usage with --help', () => {
    const r = run(['--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /usage: fastlayer \[DIR\|FILE\|-\]/);
  });
});
