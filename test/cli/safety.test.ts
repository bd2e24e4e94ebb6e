// Hazards of the CLI's outputs (issue 11 item 2): it never truncates its input, never archives its
// own output, never removes anything but its own temporary file, and every failure is one line.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync, chownSync, closeSync, existsSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { manyFiles, tempDir } from '../helpers/tree.js';
import { sha256 } from '../helpers/layer.js';
import { BIN, binMissing, hasTool, oneErrorLine, runCli, startCli, temporaries } from '../helpers/cli.js';

const isRoot = process.getuid?.() === 0;

function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', [path]);
  assert.equal(r.status, 0, `mkfifo ${path}: ${r.stderr}`);
}

/** Fails while reading: Linux's /proc/self/mem stats as an empty regular file and fails reads (EIO). */
const FAILING_INPUT = '/proc/self/mem';

describe('fastlayer CLI output hazards', { skip: binMissing() }, () => {
  const tmp = tempDir();
  const dir = join(tmp.path, 'tree');
  const work = join(tmp.path, 'work');
  const input = join(work, 'data.tar');
  const content = randomBytes(300_000);
  before(() => {
    mkdirSync(dir);
    mkdirSync(work);
    manyFiles(dir, 50);
    writeFileSync(input, content);
  });
  after(() => tmp.remove());

  const intact = () => assert.ok(readFileSync(input).equals(content), 'the input is untouched');

  for (const [label, target] of [
    ['the input path itself', () => input],
    ['a symlink to the input', () => {
      const link = join(work, 'link.tar');
      if (!existsSync(link)) symlinkSync(input, link);
      return link;
    }],
    ['a hard link of the input', () => {
      const hard = join(work, 'hard.tar');
      if (!existsSync(hard)) linkSync(input, hard);
      return hard;
    }],
  ] as const) {
    it(`refuses -o naming ${label}, and leaves the input intact`, () => {
      const r = runCli(['layer', input, '-o', target()]);
      assert.equal(r.status, 1);
      assert.match(oneErrorLine(r.stderr) ?? r.stderr, /refusing to write .*it is the input/);
      intact();
      assert.deepEqual(temporaries(work), []);
    });
  }

  it('refuses to append the layer to its own input through stdout (fastlayer FILE -o - >> FILE)', () => {
    const fd = openSync(input, 'a');
    try {
      const r = runCli(['layer', input, '-o', '-'], { stdio: ['ignore', fd, 'pipe'] });
      assert.equal(r.status, 1);
      assert.match(oneErrorLine(r.stderr) ?? r.stderr, /it is the input/);
    } finally {
      closeSync(fd);
    }
    intact();
  });

  it('refuses -o inside the input directory (also through a symlinked path), archiving nothing of its own', () => {
    const before = readdirSync(dir);
    const r = runCli(['layer', dir, '-o', join(dir, 'layer.tar.gz')]);
    assert.equal(r.status, 1);
    assert.match(oneErrorLine(r.stderr) ?? r.stderr, /inside the input directory/);
    const alias = join(tmp.path, 'alias');
    if (!existsSync(alias)) symlinkSync(join(dir, 'dir3'), alias);
    const r2 = runCli(['layer', dir, '-o', join(alias, 'layer.tar.gz')]);
    assert.equal(r2.status, 1);
    assert.match(oneErrorLine(r2.stderr) ?? r2.stderr, /inside the input directory/);
    assert.deepEqual(readdirSync(dir), before);
    assert.ok(!existsSync(join(dir, 'dir3', 'layer.tar.gz')));
  });

  it('refuses to replace a read-only output file the user may not write (as rename would)', (t) => {
    if (!isRoot) return t.skip('runs the CLI as another user: needs root');
    if (!hasTool('setpriv')) return t.skip('needs setpriv (util-linux)');
    const nobody = 65534;
    const asNobody = [`--reuid=${nobody}`, `--regid=${nobody}`, '--clear-groups'];
    // A checkout in a private folder (mktemp -d is 0700) cannot be run by another user at all.
    const readable = spawnSync('setpriv', [...asNobody, process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(BIN)}, 4)`]);
    if (readable.status !== 0) return t.skip(`uid ${nobody} cannot read ${BIN} (the checkout is in a private folder)`);
    const area = tempDir();
    try {
      chmodSync(area.path, 0o755);
      chownSync(area.path, nobody, nobody);
      const src = join(area.path, 'in');
      const target = join(area.path, 'read-only.gz');
      writeFileSync(src, 'input', { mode: 0o644 });
      writeFileSync(target, 'keep me', { mode: 0o444 });
      chownSync(target, nobody, nobody);
      const r = spawnSync('setpriv', [...asNobody, process.execPath, BIN, 'layer', src, '-o', target], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.match(oneErrorLine(r.stderr) ?? r.stderr, /cannot write .*read-only\.gz: permission denied/);
      assert.equal(readFileSync(target, 'utf8'), 'keep me');
      assert.deepEqual(temporaries(area.path), []);
    } finally {
      area.remove();
    }
  });

  it('refuses the layer on stdout redirected into the input directory (fastlayer DIR -o - > DIR/x)', (t) => {
    if (!existsSync('/proc/self/fd/1')) return t.skip('needs /proc to see where stdout points');
    const own = join(tmp.path, 'redirected');
    mkdirSync(own);
    writeFileSync(join(own, 'a'), 'a');
    const fd = openSync(join(own, 'layer.gz'), 'w');
    try {
      const r = runCli(['layer', own, '-o', '-'], { stdio: ['ignore', fd, 'pipe'] });
      assert.equal(r.status, 1);
      assert.match(oneErrorLine(r.stderr) ?? r.stderr, /redirected into the input directory/);
    } finally {
      closeSync(fd);
    }
    assert.equal(statSync(join(own, 'layer.gz')).size, 0);
  });

  it('-o naming a directory is one line and exit 1, and the directory stays', () => {
    const r = runCli(['layer', input, '-o', work]);
    assert.equal(r.status, 1);
    assert.match(oneErrorLine(r.stderr) ?? r.stderr, /is a directory/);
    assert.ok(statSync(work).isDirectory());
  });

  it('a failed run keeps the old output file, follows a symlink output without replacing the link, leaves no temporary file', (t) => {
    if (!existsSync(FAILING_INPUT)) return t.skip(`needs ${FAILING_INPUT}`);
    const real = join(work, 'real.gz');
    const link = join(work, 'out-link.gz');
    writeFileSync(real, 'previous layer');
    symlinkSync(real, link);
    const r = runCli(['layer', FAILING_INPUT, '-o', link]);
    assert.equal(r.status, 1);
    assert.match(oneErrorLine(r.stderr) ?? r.stderr, /cannot read \/proc\/self\/mem: .*(i\/o|input\/output) error/i);
    assert.ok(lstatSync(link).isSymbolicLink(), 'the symlink is not removed');
    assert.equal(readFileSync(real, 'utf8'), 'previous layer', 'the previous output is intact');
    assert.deepEqual(temporaries(work), []);
    // And on success the link still points where it did, now at the new layer.
    const ok = runCli(['layer', input, '-o', link, '--json']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(JSON.parse(ok.stdout.toString()).digest, `sha256:${sha256(readFileSync(real))}`);
    assert.deepEqual(temporaries(work), []);
  });

  it('writes a FIFO output in place and never removes it, on success or failure', async (t) => {
    if (!existsSync(FAILING_INPUT)) return t.skip(`needs ${FAILING_INPUT}`);
    if (!hasTool('mkfifo')) return t.skip('needs mkfifo');
    const fifo = join(work, 'out.fifo');
    mkfifo(fifo);
    for (const [source, status] of [[input, 0], [FAILING_INPUT, 1]] as const) {
      const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'ignore'] });
      const readerClosed = once(reader, 'close');
      const chunks: Buffer[] = [];
      reader.stdout.on('data', (c: Buffer) => chunks.push(c));
      const cli = startCli(['layer', source, '-o', fifo, '--json']);
      let out = '';
      let err = '';
      cli.stdout!.on('data', (c) => (out += c));
      cli.stderr!.on('data', (c) => (err += c));
      const [code] = await once(cli, 'exit');
      if (status === 1) reader.kill();
      await readerClosed;
      assert.equal(code, status, err);
      assert.ok(lstatSync(fifo).isFIFO(), 'the FIFO is still there');
      if (status === 0) assert.equal(JSON.parse(out).digest, `sha256:${sha256(Buffer.concat(chunks))}`);
      else assert.ok(oneErrorLine(err), err);
    }
    assert.deepEqual(temporaries(work), []);
  });

  it('a special-file output inside the input directory is allowed: only regular files would be archived', async (t) => {
    if (!hasTool('mkfifo')) return t.skip('needs mkfifo');
    const own = join(tmp.path, 'with-fifo');
    mkdirSync(own);
    writeFileSync(join(own, 'a'), 'a');
    const fifo = join(own, 'out.fifo');
    mkfifo(fifo);
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'ignore'] });
    const readerClosed = once(reader, 'close');
    const chunks: Buffer[] = [];
    reader.stdout.on('data', (c: Buffer) => chunks.push(c));
    const cli = startCli(['layer', own, '-o', fifo, '--json']);
    let out = '';
    cli.stdout!.on('data', (c) => (out += c));
    const [code] = await once(cli, 'exit');
    await readerClosed;
    assert.equal(code, 0);
    assert.equal(JSON.parse(out).digest, `sha256:${sha256(Buffer.concat(chunks))}`);
    assert.ok(lstatSync(fifo).isFIFO());
  });

  it('never removes a character device output: a /dev/full made with mknod fails in one line and stays', (t) => {
    if (!isRoot) return t.skip('mknod needs root');
    if (!hasTool('mknod')) return t.skip('needs mknod');
    const node = join(work, 'full');
    const made = spawnSync('mknod', [node, 'c', '1', '7']);
    if (made.status !== 0) return t.skip(`mknod is not permitted here: ${made.stderr.toString().trim()}`);
    const r = runCli(['layer', input, '-o', node]);
    assert.equal(r.status, 1);
    assert.match(oneErrorLine(r.stderr) ?? r.stderr, /cannot write .*no space left on device/);
    assert.ok(lstatSync(node).isCharacterDevice(), 'the device node is still there');
    assert.deepEqual(temporaries(work), []);
  });

  // /dev/fd/1 rather than /dev/stdout: a regression that removes the output would, as root, remove
  // a node of the machine's /dev, where /dev/fd/1 lives in procfs and cannot be unlinked.
  it('/dev/fd/1 (like /dev/stdout) as -o is standard output, written in place', () => {
    const r = runCli(['layer', input, '-o', '/dev/fd/1', '--level', '0']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.length > content.length);
    assert.equal(JSON.parse(r.stderr.slice(0, r.stderr.lastIndexOf('}') + 1)).digest, `sha256:${sha256(r.stdout)}`);
  });

  it('stdin that is a directory is an error, exit 1', () => {
    const fd = openSync(dir, 'r');
    try {
      const r = runCli(['layer', '-'], { stdio: [fd, 'pipe', 'pipe'] });
      assert.equal(r.status, 1);
      assert.match(oneErrorLine(r.stderr) ?? r.stderr, /standard input.*is a directory/);
      assert.equal(r.stdout.length, 0);
    } finally {
      closeSync(fd);
    }
  });

  it('a reader that closes stdout early (| head -c 10) ends the run quietly', async () => {
    const big = join(work, 'big.bin');
    writeFileSync(big, randomBytes(4 * 1024 * 1024));
    const cli = startCli(['layer', big, '-o', '-']);
    let err = '';
    cli.stderr!.on('data', (c) => (err += c));
    cli.stdout!.once('data', () => cli.stdout!.destroy());
    const [code, signal] = await once(cli, 'exit');
    assert.equal(signal, null);
    assert.equal(code, 1);
    assert.equal(err, '', 'no message, no stack trace');
  });

  it('a failing stdout (>/dev/full) is one line, exit 1', (t) => {
    if (!existsSync('/dev/full')) return t.skip('needs /dev/full');
    const fd = openSync('/dev/full', 'w');
    try {
      const r = runCli(['layer', input], { stdio: ['ignore', fd, 'pipe'] });
      assert.equal(r.status, 1);
      assert.match(oneErrorLine(r.stderr) ?? r.stderr, /cannot write to standard output: no space left on device/);
    } finally {
      closeSync(fd);
    }
  });

  it('SIGINT mid-run exits 130 and leaves neither the output nor a temporary file', async (t) => {
    if (!hasTool('mkfifo')) return t.skip('needs mkfifo');
    const fifo = join(work, 'slow.fifo');
    mkfifo(fifo);
    // A slow producer: the run is mid-way for as long as the test needs, and ends by itself.
    const producer = spawn('sh', ['-c', `i=0; while [ $i -lt 600 ]; do head -c 65536 /dev/urandom; sleep 0.05; i=$((i+1)); done > '${fifo}'`], { stdio: 'ignore' });
    const output = join(work, 'interrupted.gz');
    const cli = startCli(['layer', fifo, '-o', output]);
    const exited = once(cli, 'exit');
    let err = '';
    cli.stderr!.on('data', (c) => (err += c));
    try {
      // Bounded wait until the layer is being written to its temporary file.
      for (let i = 0; i < 200 && temporaries(work).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(temporaries(work).length, 1, 'the run is under way');
      cli.kill('SIGINT');
      const [code] = await exited;
      assert.equal(code, 130, err);
      assert.match(oneErrorLine(err) ?? err, /interrupted/);
      assert.ok(!existsSync(output));
      assert.deepEqual(temporaries(work), []);
    } finally {
      cli.kill('SIGKILL');
      producer.kill('SIGKILL');
    }
  });
});
