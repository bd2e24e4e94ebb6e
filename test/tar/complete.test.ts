// Completeness of directory layers: every kind of entry survives a round trip through GNU tar
// (names, bytes, modes, symlink targets, hard links sharing an inode, FIFOs, devices, empty
// directories, long and non-UTF-8 names), and hard links keep the tar as small as GNU tar's.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { tarDirectory } from '../../src/tar/directory.js';
import { collect } from '../helpers/layer.js';
import { randomBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';

const hasGnuTar = spawnSync('tar', ['--version'], { encoding: 'utf8' }).stdout?.includes('GNU tar') ?? false;
const NO_TAR = 'GNU tar is not installed (apt-get install tar)';
const isRoot = process.getuid?.() === 0;

const B = (s: string | number[]) => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s));
const LONG_DIR = 'long-directory-name-'.repeat(6);
const NON_UTF8 = B([0x66, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]); // "f\xff\xfe.bin"

interface Node {
  type: string;
  mode: number;
  size?: number;
  data?: string;
  link?: string;
  rdev?: number;
  inode?: number;
}

/** The tree as a map from raw path bytes (latin1) to what an extractor must reproduce. */
function snapshot(root: string): Map<string, Node> {
  const out = new Map<string, Node>();
  const inodes = new Map<number, number>();
  const visit = (rel: Buffer) => {
    const path = rel.length ? Buffer.concat([B(root + '/'), rel]) : B(root);
    for (const name of (fs.readdirSync(path, { encoding: 'buffer' }) as Buffer[]).sort(Buffer.compare)) {
      const childRel = rel.length ? Buffer.concat([rel, B('/'), name]) : name;
      const full = Buffer.concat([B(root + '/'), childRel]);
      const st = fs.lstatSync(full);
      const node: Node = { type: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'chr' : st.isBlockDevice() ? 'blk' : 'other', mode: st.mode & 0o7777 };
      if (st.isFile()) {
        node.size = st.size;
        node.data = fs.readFileSync(full).toString('base64');
      }
      if (st.isSymbolicLink()) node.link = (fs.readlinkSync(full, { encoding: 'buffer' }) as Buffer).toString('latin1');
      if (st.isCharacterDevice() || st.isBlockDevice()) node.rdev = st.rdev;
      if (!st.isDirectory() && st.nlink > 1) {
        // Hard-link groups numbered in path order, so two trees compare equal.
        if (!inodes.has(st.ino)) inodes.set(st.ino, inodes.size + 1);
        node.inode = inodes.get(st.ino)!;
      }
      if (node.type !== 'symlink') node.mode = st.mode & 0o7777;
      else node.mode = 0;
      out.set(childRel.toString('latin1'), node);
      if (st.isDirectory()) visit(childRel);
    }
  };
  visit(Buffer.alloc(0));
  return out;
}

describe('tarDirectory writes every kind of entry', () => {
  const tmp = tempDir();
  const src = join(tmp.path, 'src');
  const skipped: string[] = [];
  let tar: Buffer;
  let devices = false;
  let server: Server;

  before(async () => {
    fs.mkdirSync(join(src, 'sub', 'deeper'), { recursive: true });
    fs.mkdirSync(join(src, 'empty-dir'));
    fs.mkdirSync(join(src, LONG_DIR));
    for (const size of [0, 1, 511, 512, 513, 200_000, 1_500_000]) fs.writeFileSync(join(src, `size-${size}.bin`), randomBytes(size, size + 1));
    fs.writeFileSync(join(src, 'script.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    fs.chmodSync(join(src, 'script.sh'), 0o4755);
    fs.writeFileSync(join(src, 'private'), 'p', { mode: 0o600 });
    fs.chmodSync(join(src, 'private'), 0o600);
    fs.writeFileSync(join(src, LONG_DIR, `${'file-name-longer-than-a-hundred-bytes-'.repeat(3)}.txt`), 'long\n');
    fs.writeFileSync(Buffer.concat([B(src + '/'), NON_UTF8]), 'non-utf8 name\n');
    fs.writeFileSync(join(src, 'héllo-世界.txt'), 'unicode\n');
    // Hard links: the data goes with the first name in sorted order, in another directory too.
    fs.writeFileSync(join(src, 'sub', 'b-linked.bin'), randomBytes(300_000, 9));
    fs.linkSync(join(src, 'sub', 'b-linked.bin'), join(src, 'a-linked.bin'));
    fs.linkSync(join(src, 'sub', 'b-linked.bin'), join(src, 'sub', 'deeper', 'c-linked.bin'));
    fs.symlinkSync('size-1.bin', join(src, 'link'));
    fs.symlinkSync('../does/not/exist', join(src, 'sub', 'dangling'));
    fs.symlinkSync(`../${'t'.repeat(150)}`, join(src, 'sub', 'long-target'));
    fs.symlinkSync(NON_UTF8, Buffer.concat([B(src + '/'), B('link-to-non-utf8')]));
    assert.equal(spawnSync('mkfifo', [join(src, 'fifo')]).status, 0, 'mkfifo');
    devices = spawnSync('mknod', [join(src, 'null-device'), 'c', '1', '3']).status === 0 &&
      spawnSync('mknod', [join(src, 'loop-device'), 'b', '7', '200']).status === 0;
    server = createServer();
    await new Promise<void>((resolve) => server.listen(join(src, 'socket'), resolve));
    tar = await collect(tarDirectory(src, { mtime: 0, onSkip: (path, kind) => skipped.push(`${kind}:${path}`) }));
  });
  after(() => {
    server.close();
    tmp.remove();
  });

  it('reports the socket it leaves out, and nothing else', () => {
    assert.deepEqual(skipped, [`socket:${join(src, 'socket')}`]);
  });

  it('lists hard links, FIFOs and devices the way GNU tar reads them, without warnings', (t) => {
    if (!hasGnuTar) return t.skip(NO_TAR);
    const r = spawnSync('tar', ['-tv', '--numeric-owner', '-f', '-'], { input: tar, encoding: 'latin1' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^-rw-r--r-- 0\/0 +300000 .* a-linked\.bin$/m);
    assert.match(r.stdout, /^hrw-r--r-- 0\/0 +0 .* sub\/b-linked\.bin link to a-linked\.bin$/m);
    assert.match(r.stdout, /^hrw-r--r-- 0\/0 +0 .* sub\/deeper\/c-linked\.bin link to a-linked\.bin$/m);
    assert.match(r.stdout, /^prw-r--r-- 0\/0 +0 .* fifo$/m);
    assert.match(r.stdout, /^-rwsr-xr-x 0\/0 +18 .* script\.sh$/m);
    if (devices) {
      assert.match(r.stdout, /^crw-r--r-- 0\/0 +1,3 .* null-device$/m);
      assert.match(r.stdout, /^brw-r--r-- 0\/0 +7,200 .* loop-device$/m);
    }
  });

  it('extracts with GNU tar to the same tree: names, bytes, modes, link targets, shared inodes, FIFOs, devices, empty dirs', (t) => {
    if (!hasGnuTar) return t.skip(NO_TAR);
    const out = join(tmp.path, 'out');
    fs.mkdirSync(out);
    const r = spawnSync('tar', ['-x', '-p', '-f', '-', '-C', out], { input: tar, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const want = snapshot(src);
    want.delete('socket');
    if (!isRoot || !devices) {
      // Without CAP_MKNOD GNU tar cannot create device nodes: compare the rest.
      want.delete('null-device');
      want.delete('loop-device');
    }
    const got = snapshot(out);
    assert.deepEqual([...got.keys()], [...want.keys()]);
    for (const [name, node] of want) assert.deepEqual(got.get(name), node, name);
    assert.ok(got.get('empty-dir')?.type === 'dir');
    assert.equal(got.get(NON_UTF8.toString('latin1'))?.data, Buffer.from('non-utf8 name\n').toString('base64'));
  });

  it('is about the size of GNU tar\'s archive of the same tree (hard links written once)', (t) => {
    if (!hasGnuTar) return t.skip(NO_TAR);
    const r = spawnSync('tar', ['-c', '-f', '-', '-C', src, '.'], { maxBuffer: 1 << 30 });
    const gnu = r.stdout.length;
    // GNU tar adds a './' entry and pads to 10 KiB records; everything else matches.
    assert.ok(Math.abs(tar.length - gnu) / gnu < 0.01, `fastlayer ${tar.length} bytes, GNU tar ${gnu} bytes`);
    const linkedData = 300_000;
    assert.ok(tar.length < 2_600_000 + linkedData, `the linked data must be stored once (${tar.length} bytes)`);
  });

  it('writes uid and gid beyond ustar\'s 7 octal digits as PAX records with keepOwner', async (t) => {
    if (!isRoot) return t.skip('needs root to chown a file to uid 3000000');
    if (!hasGnuTar) return t.skip(NO_TAR);
    const dir = join(tmp.path, 'owners');
    fs.mkdirSync(dir);
    fs.writeFileSync(join(dir, 'f'), 'x');
    fs.chownSync(join(dir, 'f'), 3_000_000, 4_000_000);
    const own = await collect(tarDirectory(dir, { keepOwner: true }));
    const r = spawnSync('tar', ['-tv', '--numeric-owner', '-f', '-'], { input: own, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^-rw-r--r-- 3000000\/4000000 /m);
    const fixed = await collect(tarDirectory(dir, { owner: { uid: 1000, gid: 1001 } }));
    assert.match(spawnSync('tar', ['-tv', '--numeric-owner', '-f', '-'], { input: fixed, encoding: 'utf8' }).stdout, /^-rw-r--r-- 1000\/1001 /m);
  });
});
