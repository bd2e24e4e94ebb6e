// Options of directory layers: reproducible mtimes (SOURCE_DATE_EPOCH as BuildKit), owner, prefix,
// .dockerignore exclusion, mode overrides, whiteouts; and the layer digest of a git checkout that
// must not depend on when it was cloned.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { tarDirectory, type TarOptions } from '../../src/tar/directory.js';
import { readTar, type TarHeader } from '../../src/tar/reader.js';
import { Layer } from '../../src/layer/layer.js';
import { ErrOptionRange, ErrInvalidOption } from '../../src/core/errors.js';
import { tempDir } from '../helpers/tree.js';
import { parseOwnerArg } from '../../src/build/dir-layer.js';

async function list(dir: string, options: TarOptions): Promise<TarHeader[]> {
  const out: TarHeader[] = [];
  for await (const e of readTar(tarDirectory(dir, options))) out.push(e.header);
  return out;
}
const names = (hs: TarHeader[]) => hs.map((h) => h.name + (h.type === 'directory' ? '/' : ''));

function withEpoch<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.SOURCE_DATE_EPOCH;
  if (value === undefined) delete process.env.SOURCE_DATE_EPOCH;
  else process.env.SOURCE_DATE_EPOCH = value;
  return fn().finally(() => {
    if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = saved;
  });
}

const OLD = 1_000_000_000;
const NEW = 1_700_000_000;

describe('tarDirectory options', () => {
  const tmp = tempDir();
  const src = join(tmp.path, 'src');

  before(() => {
    fs.mkdirSync(join(src, 'sub'), { recursive: true });
    fs.writeFileSync(join(src, 'old.txt'), 'old');
    fs.writeFileSync(join(src, 'new.txt'), 'new');
    fs.writeFileSync(join(src, 'sub', 'x.txt'), 'x');
    fs.utimesSync(join(src, 'old.txt'), OLD, OLD);
    fs.utimesSync(join(src, 'new.txt'), NEW, NEW);
    fs.utimesSync(join(src, 'sub', 'x.txt'), NEW, NEW);
    fs.utimesSync(join(src, 'sub'), NEW, NEW);
  });
  after(() => tmp.remove());

  const mtimes = (hs: TarHeader[]) => Object.fromEntries(hs.map((h) => [h.name, h.mtime.getTime() / 1000]));

  it("keeps mtimes by default without SOURCE_DATE_EPOCH, and with mtime: 'keep'", async () => {
    const m = await withEpoch(undefined, async () => mtimes(await list(src, {})));
    assert.deepEqual(m, { 'new.txt': NEW, 'old.txt': OLD, sub: NEW, 'sub/x.txt': NEW });
    const kept = await withEpoch('5', async () => mtimes(await list(src, { mtime: 'keep' })));
    assert.equal(kept['new.txt'], NEW);
  });

  it('clamps mtimes to SOURCE_DATE_EPOCH by default when it is set (as BuildKit does)', async () => {
    const m = await withEpoch(String(OLD + 5), async () => mtimes(await list(src, {})));
    assert.deepEqual(m, { 'new.txt': OLD + 5, 'old.txt': OLD, sub: OLD + 5, 'sub/x.txt': OLD + 5 });
  });

  it('sets every mtime to a fixed time, given as seconds or a Date, and clamps to { clamp }', async () => {
    assert.deepEqual(new Set(Object.values(mtimes(await list(src, { mtime: 42 })))), new Set([42]));
    assert.deepEqual(new Set(Object.values(mtimes(await list(src, { mtime: new Date(42_000) })))), new Set([42]));
    assert.deepEqual(mtimes(await list(src, { mtime: { clamp: new Date((OLD + 1) * 1000) } }))['old.txt'], OLD);
    assert.deepEqual(mtimes(await list(src, { mtime: { clamp: OLD + 1 } }))['new.txt'], OLD + 1);
  });

  it('writes root:root by default, a given owner, or the files\' own ids', async () => {
    const def = await list(src, {});
    assert.ok(def.every((h) => h.uid === 0 && h.gid === 0 && h.uname === 'root' && h.gname === 'root'));
    const given = await list(src, { owner: { uid: 1000, gid: 1000 } });
    assert.ok(given.every((h) => h.uid === 1000 && h.gid === 1000 && h.uname === '' && h.gname === ''));
    const st = fs.statSync(join(src, 'old.txt'));
    const kept = await list(src, { keepOwner: true });
    assert.equal(kept.find((h) => h.name === 'old.txt')!.uid, st.uid);
  });

  it('puts the tree under a prefix, with its parent directories', async () => {
    const hs = await list(src, { prefix: '/app/srv/', mtime: 7 });
    assert.deepEqual(names(hs), ['app/', 'app/srv/', 'app/srv/new.txt', 'app/srv/old.txt', 'app/srv/sub/', 'app/srv/sub/x.txt']);
    assert.equal(hs[0]!.mode, 0o755);
    assert.equal(hs[1]!.mode, fs.statSync(src).mode & 0o7777);
    assert.ok(hs.every((h) => h.mtime.getTime() === 7000));
  });

  it('overrides modes by path or by function', async () => {
    const byMap = await list(src, { mode: { 'old.txt': 0o600, 'sub/': 0o700 } });
    assert.equal(byMap.find((h) => h.name === 'old.txt')!.mode, 0o600);
    assert.equal(byMap.find((h) => h.name === 'sub')!.mode, 0o700);
    const byFn = await list(src, { mode: (e) => (e.kind === 'file' ? 0o444 : undefined) });
    assert.ok(byFn.filter((h) => h.type === 'file').every((h) => h.mode === 0o444));
    assert.equal(byFn.find((h) => h.name === 'sub')!.mode, fs.statSync(join(src, 'sub')).mode & 0o7777);
  });

  it('writes whiteouts and opaque markers in sorted place, with their parent directories', async () => {
    const hs = await list(src, { whiteouts: ['/etc/old.conf', 'gone', 'sub/x-deleted'], opaqueDirs: ['var/cache'], mtime: 0 });
    assert.deepEqual(names(hs), [
      '.wh.gone', 'etc/', 'etc/.wh.old.conf', 'new.txt', 'old.txt', 'sub/', 'sub/.wh.x-deleted', 'sub/x.txt', 'var/', 'var/cache/', 'var/cache/.wh..wh..opq',
    ]);
    const wh = hs.find((h) => h.name === '.wh.gone')!;
    assert.equal(wh.type, 'file');
    assert.equal(wh.size, 0);
  });

  it('refuses bad options at the call, with coded errors', () => {
    assert.throws(() => tarDirectory(src, { mtime: 'later' as never }), (e) => e instanceof ErrOptionRange);
    assert.throws(() => tarDirectory(src, { mtime: {} as never }), (e) => e instanceof ErrInvalidOption);
    assert.throws(() => tarDirectory(src, { prefix: '../up' }), (e) => e instanceof ErrOptionRange);
    assert.throws(() => tarDirectory(src, { xattrs: 'yes' as never }), (e) => e instanceof ErrInvalidOption);
    assert.throws(() => tarDirectory(src, { owner: { uid: -1, gid: 0 } }), (e) => e instanceof ErrOptionRange);
    assert.throws(() => tarDirectory(src, { keepOwner: true, owner: { uid: 1, gid: 1 } }), (e) => e instanceof ErrOptionRange);
    assert.throws(() => tarDirectory(src, { mode: { x: 0o10000 } }), (e) => e instanceof ErrOptionRange);
    assert.throws(() => tarDirectory(src, { exclude: 'x' as never }), (e) => e instanceof ErrInvalidOption);
    assert.throws(() => tarDirectory(src, { whiteouts: ['/'] }), (e) => e instanceof ErrOptionRange);
    assert.throws(() => tarDirectory(src, { whiteouts: ['a/b'], opaqueDirs: ['a/.wh.b'], keepWhiteoutFiles: true }), (e) => e instanceof ErrOptionRange && /not also parents/.test(e.message));
    assert.throws(() => tarDirectory(src, { whiteouts: ['x', 'x'] }), (e) => e instanceof ErrOptionRange);
  });
});

describe('tarDirectory option values within what the header holds', () => {
  const tmp = tempDir('fastlayer-tar-bounds-');
  after(() => tmp.remove());

  it('hazard: an owner id of 2^32 or more, or an mtime past what a Date holds (±8.64e12 s), is refused at the call (not a PAX uid GNU tar rejects, not ERR_TAR_SOURCE mid-stream)', async () => {
    const dir = join(tmp.path, 'd');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(join(dir, 'f'), 'x\n');
    const refused = (options: TarOptions, option: string) => assert.throws(() => tarDirectory(dir, options),
      (e: Error & { code?: string }) => e instanceof ErrOptionRange && e.code === 'ERR_OPTION_OUT_OF_RANGE' && e.message.includes(`"${option}"`), JSON.stringify(options));
    // Ids: the object form as the string form ('UID:GID' below 2^32), so parseOwnerArg's object passes the same check.
    refused({ owner: { uid: 2 ** 32, gid: 0 } }, 'owner.uid');
    refused({ owner: { uid: 2 ** 40, gid: 0 } }, 'owner.uid');
    refused({ owner: { uid: 0, gid: 2 ** 53 - 1 } }, 'owner.gid');
    refused({ owner: { uid: 1.5, gid: 0 } }, 'owner.uid');
    refused({ ...parseOwnerArg({ uid: 2 ** 40, gid: 0 }) }, 'owner.uid');
    assert.throws(() => parseOwnerArg('4294967296:0'), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    // Times: what a Date holds, ±8.64e12 s (PAX past 11 octal digits or before 1970), so readTar reads them back.
    refused({ mtime: 1e300 }, 'mtime');
    refused({ mtime: -1e300 }, 'mtime');
    refused({ mtime: 2 ** 53 }, 'mtime');
    refused({ mtime: 8.64e12 + 1 }, 'mtime');
    refused({ mtime: -8.64e12 - 1 }, 'mtime');
    refused({ mtime: Number.POSITIVE_INFINITY }, 'mtime');
    refused({ mtime: { clamp: 1e300 } }, 'mtime.clamp');
    refused({ mtime: { clamp: -1e300 } }, 'mtime.clamp');
    // The largest of each still makes an archive (the times in PAX mtime records).
    const hs = await list(dir, { owner: { uid: 2 ** 32 - 1, gid: 2 ** 32 - 1 }, mtime: 8.64e12 });
    assert.deepEqual(hs.map((h) => [h.name, h.uid, h.gid, h.pax?.mtime]), [['f', 2 ** 32 - 1, 2 ** 32 - 1, String(8.64e12)]]);
    for (const mtime of [-8.64e12, { clamp: -8.64e12 }]) {
      const old = await list(dir, { mtime, prefix: '/p' });
      assert.deepEqual(old.map((h) => h.pax?.mtime), [String(-8.64e12), String(-8.64e12)]);
    }
    if (spawnSync('tar', ['--version']).status === 0) {
      const file = join(tmp.path, 'max.tar');
      fs.writeFileSync(file, Buffer.concat(await collectTar(dir, { owner: { uid: 2 ** 32 - 1, gid: 0 }, mtime: 0 })));
      const r = spawnSync('tar', ['--numeric-owner', '-tvf', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /4294967295\/0/);
    }
  });
});

async function collectTar(dir: string, options: TarOptions): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of tarDirectory(dir, options)) out.push(c);
  return out;
}

describe('tarDirectory exclude patterns (.dockerignore semantics)', () => {
  const tmp = tempDir();
  const src = join(tmp.path, 'ctx');
  const PATTERNS = ['# a comment', '*.log', '!keep.log', 'build', 'docs/**/*.tmp', 'secret/', '!secret/public.txt', './node_modules'];
  const FILES = ['a.log', 'keep.log', 'x.txt', 'sub/b.log', 'build/out.o', 'docs/a/b.tmp', 'docs/a/c.md', 'secret/key', 'secret/public.txt', 'node_modules/m/index.js'];
  const EXPECTED = ['docs/', 'docs/a/', 'docs/a/c.md', 'keep.log', 'secret/', 'secret/public.txt', 'sub/', 'sub/b.log', 'x.txt'];

  before(() => {
    for (const f of FILES) {
      fs.mkdirSync(join(src, f, '..'), { recursive: true });
      fs.writeFileSync(join(src, f), f);
    }
    fs.writeFileSync(join(tmp.path, '.dockerignore'), PATTERNS.join('\n') + '\n');
  });
  after(() => tmp.remove());

  it('anchors patterns at the root, excludes directories with their content, and re-includes with !', async () => {
    assert.deepEqual(names(await list(src, { exclude: PATTERNS })), EXPECTED);
  });

  it('reads the same patterns from a .dockerignore file', async () => {
    assert.deepEqual(names(await list(src, { dockerignore: join(tmp.path, '.dockerignore') })), EXPECTED);
  });

  it('leaves out an excluded directory whole when nothing under it is re-included', async () => {
    assert.deepEqual(names(await list(src, { exclude: ['secret', 'docs', 'build', 'node_modules', '*.log', 'sub'] })), ['x.txt']);
  });
});

describe('tarDirectory reproducibility', () => {
  const hasGit = spawnSync('git', ['--version']).status === 0;
  const tmp = tempDir();
  after(() => tmp.remove());

  it('gives the same layer digest for a git checkout cloned twice at different times with SOURCE_DATE_EPOCH set', async (t) => {
    if (!hasGit) return t.skip('git is not installed (apt-get install git)');
    const repo = join(tmp.path, 'repo');
    fs.mkdirSync(join(repo, 'src'), { recursive: true });
    fs.writeFileSync(join(repo, 'README'), 'hello\n');
    fs.writeFileSync(join(repo, 'src', 'main.js'), 'console.log(1)\n'.repeat(1000));
    fs.writeFileSync(join(repo, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    fs.symlinkSync('src/main.js', join(repo, 'main.js'));
    const git = (cwd: string, ...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'pipe' });
    git(repo, 'init', '-q');
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'one');
    const a = join(tmp.path, 'clone-a');
    const b = join(tmp.path, 'clone-b');
    git(tmp.path, 'clone', '-q', '--no-hardlinks', repo, a);
    git(tmp.path, 'clone', '-q', '--no-hardlinks', repo, b);
    // The second clone "happens later": every path in it gets a later mtime.
    const later = Date.now() / 1000 + 3600;
    const touch = (dir: string) => {
      for (const name of fs.readdirSync(dir)) {
        const p = join(dir, name);
        if (fs.lstatSync(p).isDirectory()) touch(p);
        fs.lutimesSync(p, later, later);
      }
      fs.utimesSync(dir, later, later);
    };
    touch(b);
    const digest = async (dir: string) => {
      const layer = new Layer(tarDirectory(dir, { exclude: ['.git'] }));
      for await (const chunk of layer.compressed()) assert.ok(chunk.length >= 0);
      return layer.digest().toString();
    };
    const epoch = String(Math.floor(Date.now() / 1000) - 86400);
    const [da, db] = await withEpoch(epoch, async () => [await digest(a), await digest(b)]);
    assert.equal(da, db);
    // Without it the clones differ, so the equality above is the clamp's doing.
    const [ka, kb] = await withEpoch(undefined, async () => [await digest(a), await digest(b)]);
    assert.notEqual(ka, kb);
  });
});

describe('tarDirectory options are not written back', () => {
  it("the caller's exclude array is left as given when a .dockerignore adds patterns (it was appended to on every call)", () => {
    const tmp = tempDir('fastlayer-tar-noalias-');
    try {
      fs.mkdirSync(join(tmp.path, 'd'));
      fs.writeFileSync(join(tmp.path, 'ignore'), '*.log\n');
      const exclude = ['a'];
      tarDirectory(join(tmp.path, 'd'), { exclude, dockerignore: join(tmp.path, 'ignore') });
      tarDirectory(join(tmp.path, 'd'), { exclude, dockerignore: join(tmp.path, 'ignore') });
      assert.deepEqual(exclude, ['a']);
    } finally {
      tmp.remove();
    }
  });
});

describe('entries of the tree named .wh.* (whiteouts to every image tool)', () => {
  const tmp = tempDir('fastlayer-tar-whname-');
  after(() => tmp.remove());

  it('a file or directory named .wh.* fails the stream (it would delete a lower path and vanish itself); excluded or keepWhiteoutFiles: written', async () => {
    for (const kind of ['file', 'dir'] as const) {
      const dir = join(tmp.path, kind);
      fs.mkdirSync(join(dir, 'etc'), { recursive: true });
      fs.writeFileSync(join(dir, 'etc', 'a'), 'a\n');
      if (kind === 'file') fs.writeFileSync(join(dir, 'etc', '.wh.passwd'), '');
      else fs.mkdirSync(join(dir, 'etc', '.wh..wh..opq'));
      await assert.rejects(list(dir, {}), (e: Error & { code?: string }) => e.code === 'ERR_TAR_SOURCE' && /etc\/\.wh\..*whiteout/.test(e.message), kind);
      assert.deepEqual(names(await list(dir, { exclude: ['**/.wh.*'] })), ['etc/', 'etc/a']);
      const kept = names(await list(dir, { keepWhiteoutFiles: true }));
      assert.equal(kept.length, 3, `${kind}: ${kept.join(' ')}`);
    }
    assert.throws(() => tarDirectory(tmp.path, { keepWhiteoutFiles: 'yes' as unknown as boolean }), (e) => e instanceof ErrInvalidOption);
  });

  it('hazard: a directory the layer makes named .wh.* (prefix, parent of a whiteout, opaque directory) is refused at the call; keepWhiteoutFiles writes it', async () => {
    const dir = join(tmp.path, 'plain');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(join(dir, 'f'), 'x\n');
    for (const [options, option] of [
      [{ prefix: '/.wh.etc' }, 'prefix'], [{ prefix: 'app/.wh.x/' }, 'prefix'], [{ prefix: '/.wh..wh..opq' }, 'prefix'],
      [{ whiteouts: ['/.wh.etc/passwd'] }, 'whiteouts'], [{ opaqueDirs: ['/var/.wh.cache'] }, 'opaqueDirs'],
    ] as [TarOptions, string][]) {
      assert.throws(() => tarDirectory(dir, options), (e: Error & { code?: string }) => e instanceof ErrOptionRange && e.message.includes(`"${option}"`) && /\.wh\.\*.*whiteout/.test(e.message), JSON.stringify(options));
    }
    // '.wh' and 'x.wh.y' are not whiteout names; the whiteout markers the layer adds are still written.
    assert.deepEqual(names(await list(dir, { prefix: '/.wh/x.wh.y', whiteouts: ['/etc/.wh.a'] })), ['.wh/', '.wh/x.wh.y/', '.wh/x.wh.y/f', 'etc/', 'etc/.wh..wh.a']);
    assert.deepEqual(names(await list(dir, { prefix: '/.wh.etc', keepWhiteoutFiles: true })), ['.wh.etc/', '.wh.etc/f']);
  });
});
