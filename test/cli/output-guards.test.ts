// Hazards of output paths that are not plain files the user named: descriptors of the process
// (standard error, /dev/fd/N), the source of copy or push, a cache inside a layer; and write failures
// of the image commands' outputs, which must be coded errors naming the output.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tempDir } from '../helpers/tree.js';
import { BIN, binMissing, oneErrorLine, runCli, type Result } from '../helpers/cli.js';
import { oneImageRegistry } from '../helpers/one-image-registry.js';

/** Runs the CLI with standard error appended to `log`, as `2>>log` does. */
function withStderrTo(log: string, args: string[]): number | null {
  const fd = openSync(log, 'a');
  try {
    return spawnSync(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', fd], timeout: 120_000 }).status;
  } finally {
    closeSync(fd);
  }
}

/** Runs the CLI with files limited to `kib` KiB (RLIMIT_FSIZE): a longer write fails with EFBIG, as root too. */
function limited(kib: number, args: string[]): Result {
  const r = spawnSync('sh', ['-c', `ulimit -f ${kib * 2} && exec "$0" "$@"`, process.execPath, BIN, ...args], { encoding: 'buffer', timeout: 120_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe('fastlayer output guards', { skip: binMissing() }, () => {
  const tmp = tempDir();
  const app = join(tmp.path, 'app');
  const archive = join(tmp.path, 'img.tar');
  const layout = join(tmp.path, 'layout');
  let archiveBytes: Buffer;
  before(() => {
    mkdirSync(app);
    // Larger than the file size limit of the write failure tests.
    writeFileSync(join(app, 'data.bin'), randomBytes(300_000));
    assert.equal(runCli(['image', '--layer', app, '--tag', 'x:1', '--compression', 'none', '-o', archive, '-q']).status, 0);
    assert.equal(runCli(['copy', `archive:${archive}`, `oci-layout:${layout}`, '-q']).status, 0);
    archiveBytes = readFileSync(archive);
  });
  after(() => tmp.remove());

  const intact = (): void => assert.ok(readFileSync(archive).equals(archiveBytes), 'the source archive is untouched');

  for (const [label, target] of [
    ['/dev/stderr', () => '/dev/stderr'],
    ['/dev/fd/2', () => '/dev/fd/2'],
    ['/proc/self/fd/2', () => '/proc/self/fd/2'],
    ['a symlink to /dev/stderr', () => {
      const link = join(tmp.path, 'to-stderr');
      if (!existsSync(link)) symlinkSync('/dev/stderr', link);
      return link;
    }],
  ] as const) {
    it(`hazard: -o ${label} never replaces the file behind standard error`, () => {
      const log = join(tmp.path, 'build.log');
      writeFileSync(log, 'line\n');
      assert.equal(withStderrTo(log, ['layer', app, '--compression', 'none', '-o', target(), '-q']), 2);
      const text = readFileSync(log, 'utf8');
      assert.ok(text.startsWith('line\n'), 'the log keeps its lines');
      assert.match(text, /descriptor of a process/);
    });
  }

  it('hazard: --digest-file through a symlink to /dev/stderr never replaces the log', () => {
    const log = join(tmp.path, 'digest.log');
    writeFileSync(log, 'line\n');
    const link = join(tmp.path, 'digest-link');
    symlinkSync('/dev/stderr', link);
    assert.equal(withStderrTo(log, ['image', '--layer', app, '--tag', 'x:1', '-o', join(tmp.path, 'd.tar'), '--digest-file', link, '-q']), 2);
    assert.ok(readFileSync(log, 'utf8').startsWith('line\n'));
    assert.ok(!existsSync(join(tmp.path, 'd.tar')));
  });

  it('hazard: -o /dev/stdin never replaces the file standard input reads', () => {
    const input = join(tmp.path, 'stdin.txt');
    writeFileSync(input, 'keep me\n');
    const fd = openSync(input, 'r');
    try {
      const r = spawnSync(process.execPath, [BIN, 'layer', app, '-o', '/dev/stdin'], { stdio: [fd, 'ignore', 'pipe'] });
      assert.equal(r.status, 2, r.stderr.toString());
    } finally {
      closeSync(fd);
    }
    assert.equal(readFileSync(input, 'utf8'), 'keep me\n');
  });

  it('hazard: copy --digest-file naming the source archive leaves the archive intact', () => {
    const r = runCli(['copy', `archive:${archive}`, `oci-layout:${join(tmp.path, 'x')}`, '--digest-file', archive]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(oneErrorLine(r.stderr) ?? r.stderr, /it is the input/);
    intact();
  });

  it('hazard: copy never writes a pipeline file or the archive inside the source layout', () => {
    const digestFile = join(layout, 'digest.txt');
    let r = runCli(['copy', `oci-layout:${layout}`, `oci-layout:${join(tmp.path, 'y')}`, '--digest-file', digestFile]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(oneErrorLine(r.stderr) ?? r.stderr, /inside the input directory/);
    r = runCli(['copy', `oci-layout:${layout}`, `archive:${join(layout, 'out.tar')}`]);
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(readdirSync(layout).sort(), ['blobs', 'index.json', 'oci-layout']);
  });

  it('hazard: push --digest-file naming the source archive leaves the archive intact', () => {
    // Refused before the registry (none listens there) is asked anything.
    const r = runCli(['push', archive, '127.0.0.1:9/x:1', '--digest-file', archive]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(oneErrorLine(r.stderr) ?? r.stderr, /it is the input/);
    intact();
  });

  it('hazard: --layer-cache-dir inside a --layer directory is refused, nothing written there', () => {
    const r = runCli(['image', '--layer', app, '--tag', 'x:1', '--layer-cache-dir', join(app, '.cache'), '-o', join(tmp.path, 'c.tar')]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--layer-cache-dir: .*inside the input directory/);
    assert.deepEqual(readdirSync(app), ['data.bin']);
  });

  it('hazard: the default layer cache inside a --layer directory is left off, so runs give one digest', () => {
    // XDG_CACHE_HOME inside the layer: as --layer ~ with the default ~/.cache/fastlayer.
    const tree = join(tmp.path, 'home');
    mkdirSync(tree);
    writeFileSync(join(tree, 'f.txt'), 'x');
    const env = { ...process.env, XDG_CACHE_HOME: join(tree, '.cache') };
    const digests = [1, 2].map((i) => {
      const r = runCli(['image', '--layer', tree, '--tag', 'x:1', '--compression', 'none', '--json', '-o', join(tmp.path, `home${i}.tar`)], { env });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /layer cache .* is inside an input; building without it/);
      return (JSON.parse(r.stdout.toString()) as { digest: string }).digest;
    });
    assert.deepEqual(readdirSync(tree), ['f.txt'], 'no cache entry written into the layer');
    assert.equal(digests[0], digests[1]);
  });

  // --json and the output both on standard output: stdout would hold the bytes and the JSON.
  for (const name of ['/dev/fd/1', '/proc/self/fd/1', '/proc/PID/fd/1']) {
    for (const [command, args] of [
      ['layer -o', (o: string) => ['layer', app, '--compression', 'none', '-o', o, '--json']],
      ['image --output', (o: string) => ['image', '--layer', app, '--tag', 'x:1', '--compression', 'none', '--no-layer-cache', '--output', o, '--json']],
    ] as const) {
      it(`hazard: ${command} ${name} with --json is a usage error, as with -`, () => {
        // /proc/PID/fd/1 with the bin's own PID: the shell's, which exec keeps.
        const r = name.includes('PID')
          ? (() => {
            const x = spawnSync('sh', ['-c', 'exec "$0" "$@" "/proc/$$/fd/1" --json', process.execPath, BIN, ...args('').slice(0, -2)], { encoding: 'buffer', timeout: 120_000 });
            return { status: x.status, stdout: x.stdout, stderr: x.stderr.toString() };
          })()
          : runCli([...args(name)]);
        assert.equal(r.status, 2, r.stderr);
        assert.equal(r.stdout.length, 0, 'nothing on standard output');
        assert.match(oneErrorLine(r.stderr) ?? r.stderr, /--json and (-o|--output) \S+ both want standard output/);
      });
    }
  }

  for (const [command, args] of [
    ['layer -o', (o: string) => ['layer', app, '--compression', 'none', '-o', o, '--json']],
    ['image --output', (o: string) => ['image', '--layer', app, '--tag', 'x:1', '--compression', 'none', '--no-layer-cache', '--output', o, '--json']],
  ] as const) {
    it(`hazard: ${command} FILE with --json and standard output redirected to FILE is a usage error`, () => {
      const out = join(tmp.path, `same-${command.replace(/\W+/g, '-')}`);
      const fd = openSync(out, 'w');
      let r;
      try {
        r = spawnSync(process.execPath, [BIN, ...args(out)], { stdio: ['ignore', fd, 'pipe'], timeout: 120_000 });
      } finally {
        closeSync(fd);
      }
      assert.equal(r.status, 2, r.stderr.toString());
      assert.match(oneErrorLine(r.stderr.toString()) ?? '', /both want standard output \(it is the file standard output goes to\)/);
      assert.equal(readFileSync(out).length, 0, 'nothing written to it');
    });
  }

  it('--json with -o /dev/null and standard output /dev/null is fine (a device is not shared output)', () => {
    const r = spawnSync(process.execPath, [BIN, 'layer', app, '--compression', 'none', '-o', '/dev/null', '--json'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr.toString());
  });

  for (const [command, args, message] of [
    ['pull --output', (o: string) => ['pull', '127.0.0.1:9/x:1', '--output', o], /--output needs a file: an archive is written back into/],
    ['copy DST', (o: string) => ['copy', `archive:${archive}`, `archive:${o}`], /DST needs a file: an archive is written back into/],
  ] as const) {
    it(`hazard: ${command} /dev/fd/1 is refused as - is, before anything is opened`, () => {
      for (const name of ['-', '/dev/stdout', '/dev/fd/1', '/proc/self/fd/1']) {
        const r = runCli([...args(name)]);
        assert.equal(r.status, 2, r.stderr);
        assert.match(oneErrorLine(r.stderr) ?? r.stderr, message, name);
      }
    });
  }

  it('hazard: a full device as image -o is a coded error naming it, not a crash', () => {
    const r = runCli(['image', '--layer', app, '--tag', 'x:1', '-o', '/dev/full']);
    assert.equal(r.status, 1);
    assert.equal(oneErrorLine(r.stderr), 'fastlayer: cannot write /dev/full: no space left on device');
  });

  for (const [label, args] of [
    ['copy to an archive', (out: string) => ['copy', `archive:${archive}`, `archive:${out}.tar`]],
    ['copy to a layout', (out: string) => ['copy', `archive:${archive}`, `oci-layout:${out}`]],
    ['image --output', (out: string) => ['image', '--layer', app, '--tag', 'x:1', '--compression', 'none', '--no-layer-cache', '-o', `${out}.tar`]],
    ['image --oci-dir', (out: string) => ['image', '--layer', app, '--tag', 'x:1', '--compression', 'none', '--no-layer-cache', '--oci-dir', out]],
  ] as const) {
    it(`hazard: a failed write of ${label} is a coded error naming the output`, () => {
      const dir = join(tmp.path, `full-${label.replace(/\W+/g, '-')}`);
      mkdirSync(dir);
      const out = join(dir, 'out');
      const r = limited(64, args(out));
      assert.equal(r.status, 1, r.stderr);
      const isArchive = label.endsWith('archive') || label.endsWith('--output');
      assert.equal(oneErrorLine(r.stderr), `fastlayer: cannot write ${isArchive ? `${out}.tar` : out}: file too large`);
      if (isArchive) assert.deepEqual(readdirSync(dir), [], 'no archive, no temporary file');
    });
  }

  it('hazard: a failed write of pull --output is a coded error naming the output', async () => {
    const registry = await oneImageRegistry({ stall: false });
    try {
      const dir = join(tmp.path, 'full-pull');
      mkdirSync(dir);
      const out = join(dir, 'out.tar');
      // Asynchronous: the registry answers from this process.
      const child = spawn('sh', ['-c', 'ulimit -f 128 && exec "$0" "$@"', process.execPath, BIN, 'pull', `${registry.host}/one:1`, '-o', out], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const [code] = await once(child, 'exit');
      assert.equal(code, 1, stderr);
      assert.equal(oneErrorLine(stderr), `fastlayer: cannot write ${out}: file too large`);
      assert.deepEqual(readdirSync(dir), [], 'no archive, no temporary file');
    } finally {
      registry.close();
    }
  });
});
