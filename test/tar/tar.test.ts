// The deterministic tar writer (src/tar/), checked against GNU tar: the behaviour it had before the
// tar issue (sorted names, root:root, PAX where ustar cannot hold a value), with mtime kept.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, symlinkSync, utimesSync, chmodSync, readFileSync, readlinkSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { tarDirectory, entryHeader } from '../../src/tar/directory.js';
import { ErrTarSource } from '../../src/core/errors.js';
import { collect, compress, engines } from '../helpers/layer.js';
import { randomBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';
import { gunzipSync } from 'node:zlib';
import { createServer, type Server } from 'node:net';

const LONG_DIR = 'a-directory-with-a-rather-long-name-'.repeat(3);
const LONG_NAME = `${LONG_DIR}/and-a-file-whose-name-alone-is-longer-than-the-ustar-name-field-of-one-hundred-bytes.txt`;
const UNICODE = 'héllo-世界.txt';
const MTIME = 1_234_567_890;

const FILES: Record<string, Buffer> = {
  'empty.txt': Buffer.alloc(0),
  'small.txt': Buffer.from('hello\n'),
  'b/nested/deep.bin': randomBytes(70_000, 2),
  'b/big.bin': randomBytes(2_500_000, 3),
  [LONG_NAME]: Buffer.from('long\n'),
  [UNICODE]: Buffer.from('unicode\n'),
};

describe('tarDirectory', () => {
  const tmp = tempDir();
  const src = join(tmp.path, 'src');
  let tar: Buffer;
  const skipped: string[] = [];
  let server: Server;

  before(async () => {
    for (const [name, data] of Object.entries(FILES)) {
      mkdirSync(join(src, name, '..'), { recursive: true });
      writeFileSync(join(src, name), data);
    }
    mkdirSync(join(src, 'empty-dir'));
    chmodSync(join(src, 'small.txt'), 0o755);
    symlinkSync('small.txt', join(src, 'link'));
    symlinkSync(`../${'x'.repeat(120)}`, join(src, 'b', 'long-link'));
    server = createServer();
    await new Promise<void>((resolve) => server.listen(join(src, 'socket'), resolve));
    for (const name of [...Object.keys(FILES), 'empty-dir', 'b', 'b/nested', LONG_DIR]) utimesSync(join(src, name), MTIME, MTIME);
    tar = await collect(tarDirectory(src, { mtime: 'keep', onSkip: (path, kind) => skipped.push(`${kind}:${path}`) }));
  });
  after(() => {
    server.close();
    tmp.remove();
  });

  it('is deterministic', async () => {
    assert.ok((await collect(tarDirectory(`${src}/`, { mtime: 'keep' }))).equals(tar));
  });

  it('lists sorted names with root:root ownership, in a form GNU tar reads without warnings', () => {
    const r = spawnSync('tar', ['-tv', '--numeric-owner', '--full-time', '-f', '-'], { input: tar, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const names = execFileSync('tar', ['-t', '-f', '-'], { input: tar, encoding: 'utf8' }).trimEnd().split('\n');
    assert.deepEqual(names, [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    assert.ok(names.includes('empty-dir/') && names.includes('b/nested/') && names.includes(LONG_NAME) && names.includes(UNICODE));
    for (const line of r.stdout.trimEnd().split('\n')) assert.match(line, /^\S+ 0\/0 /, line);
    assert.match(r.stdout, /^-rwxr-xr-x 0\/0 +6 2009-02-13 23:31:30 small\.txt$/m);
    assert.match(r.stdout, /^lrwxrwxrwx 0\/0 +0 .* link -> small\.txt$/m);
  });

  it('extracts to the same files, symlinks, modes and mtimes', () => {
    const out = join(tmp.path, 'out');
    mkdirSync(out);
    execFileSync('tar', ['-x', '-f', '-', '-C', out], { input: tar });
    for (const [name, data] of Object.entries(FILES)) {
      assert.ok(readFileSync(join(out, name)).equals(data), name);
      assert.equal(lstatSync(join(out, name)).mtimeMs, MTIME * 1000, `mtime of ${name}`);
    }
    assert.equal(lstatSync(join(out, 'small.txt')).mode & 0o777, 0o755);
    assert.equal(readlinkSync(join(out, 'link')), 'small.txt');
    assert.equal(readlinkSync(join(out, 'b', 'long-link')), `../${'x'.repeat(120)}`);
    assert.ok(lstatSync(join(out, 'empty-dir')).isDirectory());
  });

  it('leaves out and reports entries it cannot represent (a socket)', () => {
    assert.deepEqual(skipped, [`socket:${join(src, 'socket')}`]);
  });

  it('feeds a layer whose gunzipped bytes are the tar', async () => {
    for (const engine of engines) {
      const { out, layer } = await compress(engine, tarDirectory(src, { mtime: 'keep' }));
      assert.ok(gunzipSync(out).equals(tar), engine.name);
      assert.equal(layer.diffID().hex, (await compress(engine, tar)).layer.diffID().hex);
    }
  });

  it('puts sizes and mtimes ustar cannot hold into PAX records', () => {
    const h = entryHeader({ name: Buffer.from('huge'), type: '0', mode: 0o644, size: 2 ** 34, mtime: -5, uid: 0, gid: 0, uname: 'root', gname: 'root' });
    assert.equal(String.fromCharCode(h[156]!), 'x');
    const text = h.subarray(512, 1024).toString('latin1');
    assert.match(text, /^\d+ size=17179869184\n\d+ mtime=-5\n/);
    for (const record of text.replace(/\0+$/, '').split(/(?<=\n)/)) {
      assert.equal(Buffer.byteLength(record), Number(record.split(' ')[0]), `record length of ${JSON.stringify(record)}`);
    }
    assert.equal(h.length, 1536);
  });

  it('rejects a missing directory with ErrTarSource', async () => {
    await assert.rejects(collect(tarDirectory(join(tmp.path, 'missing'))), (err) =>
      err instanceof ErrTarSource && err.code === 'ERR_TAR_SOURCE' && /missing/.test(err.message));
  });
});
